//! S3 and KMS clients take their credentials from the AWS SDK's default
//! chain, not only from the environment: here a shared profile, against a
//! moto server that checks every request's SigV4 signature against the IAM
//! access keys it holds (`INITIAL_NO_AUTH_ACTION_COUNT`). The right profile
//! stores and seals a payload; a profile with a wrong secret is refused by
//! the server, so the gateway acknowledges nothing.

mod common;

use cartorio_testkit::moto::{Moto, boto3, start_moto_with_env};
use common::gateway::{ingest, json, openssl_sha256};
use common::*;
use std::path::Path;
use std::process::Command;

/// Requests moto serves before it checks signatures: the set-up below.
const SETUP_REQUESTS: &str = "5";

/// A moto that checks signatures, with a bucket, a KMS key and an IAM user
/// allowed everything; returns (moto, access key id, secret, KMS key id).
fn moto_checking_signatures() -> (Moto, String, String, String) {
    let moto = start_moto_with_env(&[("INITIAL_NO_AUTH_ACTION_COUNT", SETUP_REQUESTS)]);
    let out = boto3(
        &moto.endpoint,
        r#"import json
iam = boto3.client('iam', **kw)
s3.create_bucket(Bucket='lake')
kms_key = kms.create_key()['KeyMetadata']['KeyId']
iam.create_user(UserName='cartorio')
policy = {'Version': '2012-10-17', 'Statement': [{'Effect': 'Allow', 'Action': '*', 'Resource': '*'}]}
iam.put_user_policy(UserName='cartorio', PolicyName='all', PolicyDocument=json.dumps(policy))
key = iam.create_access_key(UserName='cartorio')['AccessKey']
print(key['AccessKeyId'], key['SecretAccessKey'], kms_key)"#,
    );
    let mut words = out.split_whitespace().map(str::to_owned);
    let mut next = || words.next().unwrap_or_else(|| panic!("set-up printed {out:?}"));
    let (id, secret, kms_key) = (next(), next(), next());
    (moto, id, secret, kms_key)
}

fn gateway_config(port: u16, endpoint: &str, kms_key: &str) -> String {
    format!(
        r#"listen = "127.0.0.1:{port}"
[store]
kind = "s3"
bucket = "lake"
endpoint = "{endpoint}"
[encryption.kms]
key_id = "{kms_key}"
endpoint = "{endpoint}"
[[api_keys]]
id = "app"
sha256 = "{hash}"
streams = ["events"]
[[streams]]
name = "events"
rate_per_sec = 100.0
burst = 100
content_types = ["text/plain"]
"#,
        hash = hex::encode(openssl_sha256(b"k-app"))
    )
}

/// The environment of a process whose only credentials are the profile
/// `cartorio` in `dir/credentials`: no keys in the environment, no instance
/// metadata to fall back on.
fn profile_only(command: &mut Command, dir: &Path) {
    for name in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"] {
        command.env_remove(name);
    }
    command
        .env("AWS_SHARED_CREDENTIALS_FILE", dir.join("credentials"))
        .env("AWS_CONFIG_FILE", dir.join("config"))
        .env("AWS_PROFILE", "cartorio")
        .env("AWS_EC2_METADATA_DISABLED", "true");
}

fn write_profile(dir: &Path, id: &str, secret: &str) {
    std::fs::create_dir_all(dir).expect("dir");
    let profile = format!("[cartorio]\naws_access_key_id = {id}\naws_secret_access_key = {secret}\n");
    std::fs::write(dir.join("credentials"), profile).expect("credentials");
    std::fs::write(dir.join("config"), "[profile cartorio]\nregion = us-east-1\n").expect("config");
}

#[test]
fn s3_and_kms_sign_with_a_shared_profile_and_a_wrong_one_is_refused() {
    let tmp = tempfile::tempdir().expect("tempdir");
    let (moto, id, secret, kms_key) = moto_checking_signatures();

    let good = tmp.path().join("good");
    write_profile(&good, &id, &secret);
    let port = free_port();
    let config = gateway_config(port, &moto.endpoint, &kms_key);
    let gateway = start_alone_with("gateway", &good, &config, port, "", |c| profile_only(c, &good));
    let (status, _, body) =
        ingest(&format!("127.0.0.1:{port}"), "events", Some("k-app"), "text/plain", b"signed", &[]);
    drop(gateway);
    assert_eq!(status, 202, "{body}");
    let id_of_object = json(&body)["id"].as_str().expect("id").to_owned();

    let bad = tmp.path().join("bad");
    write_profile(&bad, &id, "not-the-secret");
    let port = free_port();
    let config = gateway_config(port, &moto.endpoint, &kms_key);
    let gateway = start_alone_with("gateway", &bad, &config, port, "", |c| profile_only(c, &bad));
    let (status, _, body) =
        ingest(&format!("127.0.0.1:{port}"), "events", Some("k-app"), "text/plain", b"unsigned", &[]);
    drop(gateway);
    assert_eq!(status, 503, "a wrong secret must not store anything: {body}");
    assert_eq!(json(&body)["reason"], "sink_unavailable", "{body}");
    let log = std::fs::read_to_string(bad.join("gateway.log")).expect("log");
    assert!(!log.contains("not-the-secret"), "a secret in the log");

    // Only the first payload is in the bucket (listed with the right keys).
    let listing = Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import boto3\ns3 = boto3.client('s3', endpoint_url={e:?}, region_name='us-east-1', aws_access_key_id={id:?}, aws_secret_access_key={secret:?})\nprint('\\n'.join(o['Key'] for o in s3.list_objects_v2(Bucket='lake').get('Contents', [])))",
            e = moto.endpoint
        ))
        .output()
        .expect("python3");
    let keys = String::from_utf8_lossy(&listing.stdout);
    assert!(listing.status.success(), "{}", String::from_utf8_lossy(&listing.stderr));
    let payloads: Vec<&str> =
        keys.lines().filter(|k| k.starts_with("raw/events/") && !k.ends_with(".meta.json")).collect();
    assert_eq!(payloads.len(), 1, "{keys}");
    assert!(payloads[0].ends_with(&id_of_object), "{keys}");
}
