//! The S3 object store (aws-sdk-s3): path-style addressing and checksums
//! only when an operation requires them, so S3-compatible servers work too;
//! SSE-KMS headers when configured; multipart uploads above 8 MiB. TLS and
//! credentials as for every AWS client here ([`crate::aws`]).

use crate::aws::{credentials, http_client};
use crate::store::{Precondition, StoreError, Version};
use aws_sdk_s3::config::{Region, RequestChecksumCalculation, ResponseChecksumValidation};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, ServerSideEncryption};
use bytes::Bytes;

/// Bodies above this go up in parts of this size.
pub const MULTIPART_PART: usize = 8 << 20;

/// Where an S3 store lives, as written in TOML under `[store]` with `kind = "s3"`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    pub bucket: String,
    /// Key prefix inside the bucket (e.g. `cartorio/`).
    #[serde(default)]
    pub prefix: String,
    #[serde(default = "default_region")]
    pub region: String,
    /// An S3-compatible endpoint (`http://127.0.0.1:9000`); AWS when absent.
    #[serde(default)]
    pub endpoint: Option<String>,
    /// Encrypt objects with SSE-KMS under this key.
    #[serde(default)]
    pub sse_kms_key_id: Option<String>,
}

fn default_region() -> String {
    "us-east-1".into()
}

#[derive(Debug, Clone)]
pub struct S3Store {
    client: aws_sdk_s3::Client,
    bucket: String,
    prefix: String,
    sse_kms_key_id: Option<String>,
}

fn s3_error(key: &str, error: impl std::fmt::Display) -> StoreError {
    StoreError::Remote { key: key.to_owned(), message: error.to_string() }
}

impl S3Store {
    pub fn new(config: &S3Config) -> Self {
        let mut builder = aws_sdk_s3::Config::builder()
            .behavior_version_latest()
            .region(Region::new(config.region.clone()))
            .force_path_style(true)
            .credentials_provider(credentials(&config.region))
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .http_client(http_client());
        if let Some(endpoint) = &config.endpoint {
            builder = builder.endpoint_url(endpoint);
        }
        Self {
            client: aws_sdk_s3::Client::from_conf(builder.build()),
            bucket: config.bucket.clone(),
            prefix: config.prefix.clone(),
            sse_kms_key_id: config.sse_kms_key_id.clone(),
        }
    }

    fn object(&self, key: &str) -> String {
        format!("{}{key}", self.prefix)
    }

    pub async fn get(&self, key: &str) -> Result<Option<Bytes>, StoreError> {
        match self.client.get_object().bucket(&self.bucket).key(self.object(key)).send().await {
            Ok(object) => {
                let body = object.body.collect().await.map_err(|e| s3_error(key, e))?;
                Ok(Some(body.into_bytes()))
            }
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            Err(error) => Err(s3_error(key, aws_sdk_s3::error::DisplayErrorContext(error))),
        }
    }

    /// The keys under `prefix` (without the store's own prefix), sorted.
    pub async fn list(&self, prefix: &str) -> Result<Vec<String>, StoreError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(&self.bucket)
            .prefix(self.object(prefix))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| s3_error(prefix, aws_sdk_s3::error::DisplayErrorContext(e)))?;
            for object in page.contents() {
                if let Some(key) = object.key().and_then(|k| k.strip_prefix(self.prefix.as_str())) {
                    keys.push(key.to_owned());
                }
            }
        }
        keys.sort();
        Ok(keys)
    }

    /// The object and its ETag (what `If-Match` compares).
    pub async fn get_versioned(&self, key: &str) -> Result<Option<(Bytes, Version)>, StoreError> {
        match self.client.get_object().bucket(&self.bucket).key(self.object(key)).send().await {
            Ok(object) => {
                let etag = object.e_tag().map(str::to_owned).ok_or_else(|| s3_error(key, "no ETag"))?;
                let body = object.body.collect().await.map_err(|e| s3_error(key, e))?;
                Ok(Some((body.into_bytes(), Version(etag))))
            }
            Err(error) if error.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            Err(error) => Err(s3_error(key, aws_sdk_s3::error::DisplayErrorContext(error))),
        }
    }

    /// A conditional PUT (`If-None-Match: *` or `If-Match: ETag`, S3's
    /// conditional writes): `None` when S3 answers 412 Precondition Failed
    /// or 409 (a concurrent conditional write to the same key). Always one
    /// request: a conditional object is small (a manifest, a CRL).
    pub async fn put_if(
        &self,
        key: &str,
        bytes: Bytes,
        expected: &Precondition,
    ) -> Result<Option<Version>, StoreError> {
        let mut put =
            self.client.put_object().bucket(&self.bucket).key(self.object(key)).body(ByteStream::from(bytes));
        put = match expected {
            Precondition::Absent => put.if_none_match("*"),
            Precondition::Matches(Version(etag)) => put.if_match(etag),
        };
        if let Some(kms) = &self.sse_kms_key_id {
            put = put.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(kms);
        }
        match put.send().await {
            Ok(done) => {
                let etag = done.e_tag().map(str::to_owned).ok_or_else(|| s3_error(key, "no ETag"))?;
                Ok(Some(Version(etag)))
            }
            Err(error) if matches!(error.raw_response().map(|r| r.status().as_u16()), Some(409 | 412)) => {
                Ok(None)
            }
            Err(error) => Err(s3_error(key, aws_sdk_s3::error::DisplayErrorContext(error))),
        }
    }

    /// Stores `bytes` under `key`; S3 makes a completed PUT (or multipart
    /// completion) durable and atomic.
    pub async fn put(&self, key: &str, bytes: Bytes) -> Result<(), StoreError> {
        if bytes.len() > MULTIPART_PART {
            return self.put_multipart(key, bytes).await;
        }
        let mut put =
            self.client.put_object().bucket(&self.bucket).key(self.object(key)).body(ByteStream::from(bytes));
        if let Some(kms) = &self.sse_kms_key_id {
            put = put.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(kms);
        }
        put.send().await.map_err(|e| s3_error(key, aws_sdk_s3::error::DisplayErrorContext(e)))?;
        Ok(())
    }

    async fn put_multipart(&self, key: &str, bytes: Bytes) -> Result<(), StoreError> {
        let object = self.object(key);
        let mut create = self.client.create_multipart_upload().bucket(&self.bucket).key(&object);
        if let Some(kms) = &self.sse_kms_key_id {
            create = create.server_side_encryption(ServerSideEncryption::AwsKms).ssekms_key_id(kms);
        }
        let upload =
            create.send().await.map_err(|e| s3_error(key, aws_sdk_s3::error::DisplayErrorContext(e)))?;
        let upload_id = upload.upload_id().ok_or_else(|| s3_error(key, "no upload id"))?.to_owned();
        let uploaded = async {
            let mut parts = Vec::new();
            for (i, chunk) in bytes.chunks(MULTIPART_PART).enumerate() {
                let number = i32::try_from(i + 1).map_err(|_| s3_error(key, "too many parts"))?;
                let part = self
                    .client
                    .upload_part()
                    .bucket(&self.bucket)
                    .key(&object)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .body(ByteStream::from(bytes.slice_ref(chunk)))
                    .send()
                    .await
                    .map_err(|e| s3_error(key, aws_sdk_s3::error::DisplayErrorContext(e)))?;
                parts.push(
                    CompletedPart::builder()
                        .part_number(number)
                        .set_e_tag(part.e_tag().map(str::to_owned))
                        .build(),
                );
            }
            self.client
                .complete_multipart_upload()
                .bucket(&self.bucket)
                .key(&object)
                .upload_id(&upload_id)
                .multipart_upload(CompletedMultipartUpload::builder().set_parts(Some(parts)).build())
                .send()
                .await
                .map_err(|e| s3_error(key, aws_sdk_s3::error::DisplayErrorContext(e)))?;
            Ok(())
        };
        let result: Result<(), StoreError> = uploaded.await;
        if result.is_err() {
            // Leave no orphaned parts behind (they are billed).
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(&self.bucket)
                .key(&object)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }
}
