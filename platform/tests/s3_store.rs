//! The S3 object store against a real S3 API server on loopback (moto,
//! which `scripts/test.sh` installs): round trip, missing keys, multipart
//! above 8 MiB, SSE-KMS headers, conditional writes, listing.

use bytes::Bytes;
use cartorio_platform::s3::{S3Config, S3Store};
use cartorio_platform::store::Precondition;
use cartorio_testkit::moto::{boto3, start_moto};

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

    // Conditional writes: If-None-Match on a new key, If-Match on the ETag read.
    let first = store.put_if("m/manifest.json", Bytes::from_static(b"1"), &Precondition::Absent).await;
    let first = first.expect("put").expect("nothing there yet");
    let again = store.put_if("m/manifest.json", Bytes::from_static(b"x"), &Precondition::Absent).await;
    assert!(again.expect("put").is_none(), "412: the key exists");
    let (bytes, version) = store.get_versioned("m/manifest.json").await.expect("get").expect("object");
    assert_eq!((&bytes[..], &version), (&b"1"[..], &first));
    let current = Precondition::Matches(version);
    let second = store.put_if("m/manifest.json", Bytes::from_static(b"2"), &current).await.expect("put");
    assert!(second.is_some(), "the version read is current");
    let stale = store.put_if("m/manifest.json", Bytes::from_static(b"3"), &current).await.expect("put");
    assert!(stale.is_none(), "412: a writer that read version 1 loses to version 2");
    assert_eq!(store.get("m/manifest.json").await.expect("get").as_deref(), Some(&b"2"[..]));
    assert_eq!(store.list("m/").await.expect("list"), ["m/manifest.json"]);
    assert_eq!(store.list("a/").await.expect("list"), ["a/b.txt"]);
}
