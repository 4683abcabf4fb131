//! The S3 object store against a real S3 API server on loopback (moto,
//! which `scripts/test.sh` installs): round trip, missing keys, multipart
//! above 8 MiB, SSE-KMS headers.

use bytes::Bytes;
use cartorio_platform::s3::{S3Config, S3Store};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Moto {
    child: Child,
    endpoint: String,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_moto() -> Moto {
    let port = std::net::TcpListener::bind("127.0.0.1:0").expect("probe").local_addr().expect("addr").port();
    let child = Command::new("moto_server")
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server (pip install 'moto[server]'; scripts/test.sh does)");
    let moto = Moto { child, endpoint: format!("http://127.0.0.1:{port}") };
    let deadline = Instant::now() + Duration::from_secs(30);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(Instant::now() < deadline, "moto_server did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    moto
}

/// Runs a boto3 snippet against the server (`s3`, `kms` clients ready); returns stdout.
fn boto3(endpoint: &str, code: &str) -> String {
    let script = format!(
        "import boto3\nkw = dict(endpoint_url={endpoint:?}, region_name='us-east-1', aws_access_key_id='x', aws_secret_access_key='x')\ns3 = boto3.client('s3', **kw)\nkms = boto3.client('kms', **kw)\n{code}\n"
    );
    let out = Command::new("python3").arg("-c").arg(script).output().expect("python3");
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn s3_store_round_trips_multipart_and_sse_kms() {
    let moto = start_moto();
    boto3(&moto.endpoint, "s3.create_bucket(Bucket='cartorio')");
    let kms_key = boto3(&moto.endpoint, "print(kms.create_key()['KeyMetadata']['KeyId'])");
    let config = |sse: Option<String>| S3Config {
        bucket: "cartorio".into(),
        prefix: "edge/".into(),
        region: "us-east-1".into(),
        endpoint: Some(moto.endpoint.clone()),
        sse_kms_key_id: sse,
    };
    let store = S3Store::new(&config(None));
    store.put("a/b.txt", Bytes::from_static(b"hello")).await.expect("put");
    assert_eq!(store.get("a/b.txt").await.expect("get").as_deref(), Some(&b"hello"[..]));
    assert!(store.get("a/missing").await.expect("get").is_none());
    let listed = boto3(&moto.endpoint, "print(s3.list_objects_v2(Bucket='cartorio')['Contents'][0]['Key'])");
    assert_eq!(listed, "edge/a/b.txt", "under the prefix");

    // Above 8 MiB: multipart, reassembled exactly.
    let big: Vec<u8> = (0..20 * 1024 * 1024u32).map(|i| (i % 251) as u8).collect();
    store.put("big/blob", Bytes::from(big.clone())).await.expect("multipart put");
    assert_eq!(store.get("big/blob").await.expect("get").as_deref(), Some(&big[..]));
    let etag = boto3(&moto.endpoint, "print(s3.head_object(Bucket='cartorio', Key='edge/big/blob')['ETag'])");
    assert!(etag.ends_with("-3\""), "three parts: {etag}");

    // SSE-KMS.
    let sealed = S3Store::new(&config(Some(kms_key.clone())));
    sealed.put("k/v", Bytes::from_static(b"secret")).await.expect("put");
    let head = boto3(
        &moto.endpoint,
        "h = s3.head_object(Bucket='cartorio', Key='edge/k/v')\nprint(h['ServerSideEncryption'], h['SSEKMSKeyId'])",
    );
    assert!(head.starts_with("aws:kms") && head.contains(&kms_key), "{head}");
}
