//! The networks part of the bollard-like `Engine` API.

use super::{CreateNetworkOptions, NetworkFilters, NetworkUse};
use crate::{blocking, Engine, Result};
use bollard_stubs::models::Network;

/// `network connect` options (bollard's `ConnectNetworkOptions` with its EndpointConfig
/// reduced to what rdesk supports).
#[derive(Debug, Clone, Default)]
pub struct ConnectNetworkOptions {
    pub container: String,
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
}

#[derive(Debug, Clone, Default)]
pub struct DisconnectNetworkOptions {
    pub container: String,
    pub force: bool,
}

impl Engine {
    /// Creates a bridge network; returns its ID.
    pub async fn create_network(&self, options: CreateNetworkOptions) -> Result<String> {
        let store = self.inner.store.clone();
        blocking(move || Ok(super::create_network(&store, options)?)).await
    }

    /// Networks (the default `bridge`, user-defined ones, and Docker's `host` and `none`)
    /// in Docker's shape; `Containers` holds each live endpoint with its IPv4Address.
    pub async fn list_networks(&self, filters: NetworkFilters) -> Result<Vec<Network>> {
        let store = self.inner.store.clone();
        blocking(move || Ok(super::list_networks(&store, &filters)?)).await
    }

    pub async fn inspect_network(&self, name: &str) -> Result<Network> {
        let (store, name) = (self.inner.store.clone(), name.to_string());
        blocking(move || Ok(super::inspect_network(&store, &name)?)).await
    }

    /// Refuses a network with live endpoints (Docker's "has active endpoints").
    pub async fn remove_network(&self, name: &str) -> Result<()> {
        let (store, name) = (self.inner.store.clone(), name.to_string());
        blocking(move || Ok(super::remove_network(&store, &name)?)).await
    }

    /// Removes the user-defined networks no container uses; their names.
    pub async fn prune_networks(&self, filters: NetworkFilters) -> Result<Vec<String>> {
        let store = self.inner.store.clone();
        blocking(move || Ok(super::prune_networks(&store, &filters)?)).await
    }

    /// Attaches a container; live (veth, address, DNS) when it runs.
    pub async fn connect_network(
        &self,
        network: &str,
        options: ConnectNetworkOptions,
    ) -> Result<()> {
        let (store, shim, network) = (
            self.inner.store.clone(),
            self.inner.config.shim_binary.clone(),
            network.to_string(),
        );
        blocking(move || {
            super::connect(
                &store,
                &shim,
                &network,
                &options.container,
                options.aliases,
                options.ipv4_address,
            )
        })
        .await
    }

    pub async fn disconnect_network(
        &self,
        network: &str,
        options: DisconnectNetworkOptions,
    ) -> Result<()> {
        let (store, network) = (self.inner.store.clone(), network.to_string());
        blocking(move || super::disconnect(&store, &network, &options.container, options.force))
            .await
    }

    /// For a Networks pane: every network with its containers as (name, address, aliases).
    pub async fn network_usage(&self) -> Result<Vec<NetworkUse>> {
        let store = self.inner.store.clone();
        blocking(move || Ok(super::network_usage(&store)?)).await
    }

    /// The container's published ports as bound (`docker port`): (container port/proto,
    /// host ip, host port).
    pub async fn container_ports(&self, name: &str) -> Result<Vec<super::store::BoundPort>> {
        self.on_container(name, |store, id| {
            let live = crate::container::ContainerStore::new(store)
                .state(id)
                .map(|s| s.status.is_live())
                .unwrap_or(false);
            Ok(if live {
                super::bound_ports(store, id)
            } else {
                vec![]
            })
        })
        .await
    }
}
