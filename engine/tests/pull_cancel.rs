//! Dropping the progress stream of a pull (the TUI's "cancel") stops the download and leaves
//! no image and no ingest entry behind.

use futures_util::StreamExt;
use rdesk_engine::{CreateImageOptions, Engine, EngineConfig};
use rdesk_testkit::fake::{FakeConfig, FakeRegistry, Fault};
use rdesk_testkit::fixtures;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_stream_cancels_the_pull() {
    let (fake, img) = rdesk_testkit::off_runtime(|| {
        let fake = FakeRegistry::start(FakeConfig::default());
        let img = fixtures::busybox_image();
        fake.add_image("library/busybox", "latest", &img);
        fake.set_fault(
            &img.layers[0].digest,
            Fault::Throttle {
                bytes_per_sec: 32 * 1024,
            },
        );
        (fake, img)
    });
    let dir = tempfile::tempdir().unwrap();
    let engine = Engine::open_unchecked(EngineConfig::with_root(
        dir.path().join("root"),
        dir.path().join("run"),
    ))
    .await
    .unwrap();
    let mut stream = engine.create_image(CreateImageOptions {
        from_image: format!("{}/library/busybox", fake.addr()),
        ..Default::default()
    });
    // Wait until bytes flow, then walk away.
    loop {
        let msg = stream
            .next()
            .await
            .expect("progress")
            .expect("no error yet");
        if msg.status.as_deref() == Some("Downloading") {
            break;
        }
    }
    drop(stream);
    let ingest = dir.path().join("root/ingest");
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::fs::read_dir(&ingest).unwrap().count() > 0 {
        assert!(
            Instant::now() < deadline,
            "the cancelled pull kept its ingest entry"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(engine
        .list_images(Default::default())
        .await
        .unwrap()
        .is_empty());
    assert!(!dir
        .path()
        .join("root/layers")
        .join(&img.chain_ids()[0][7..])
        .exists());
    drop(fake);
}
