//! S3-compatible object store (AWS, MinIO, R2) via rust-s3, path-style.
//!
//! Server-side calls use the internal endpoint; URLs handed to browsers are signed
//! for the public endpoint, which may differ (e.g. `minio:9000` vs `localhost:9000`).
//!
//! Download and view URLs set the response's `Content-Type` and `Content-Disposition`
//! through the signed `response-content-type` / `response-content-disposition`
//! overrides. S3 cannot add other headers per request (no `Content-Security-Policy`, no
//! `nosniff`): what keeps an inline view harmless there is that the bytes come from the
//! storage endpoint's origin, never DocuVault's, and that active types (HTML, SVG) are
//! only ever served as `text/plain` or as attachments (`documents::files::view_of`).

use std::time::Duration;

use async_trait::async_trait;
use s3::creds::Credentials;
use s3::error::S3Error;
use s3::{Bucket, BucketConfiguration, Region};
use secrecy::ExposeSecret;
use tokio::io::{AsyncRead, AsyncWrite, AsyncWriteExt};

use super::{Disposition, ListedObject, ObjectMeta, ObjectStore, Presigned, StorageError};

use crate::domain::ObjectKey;
use crate::settings::S3Settings;

/// Parts of one multipart upload sent at once (`write_from`).
const MAX_PARTS_IN_FLIGHT: usize = 2;

fn expiry_secs(ttl: Duration) -> u32 {
    u32::try_from(ttl.as_secs())
        .unwrap_or(900)
        .clamp(1, 604_800)
}

/// Timeout for every server-side S3 request.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// An S3 bucket reached through two endpoints.
pub struct S3Store {
    /// Bucket handle for server-side calls (internal endpoint).
    bucket: Box<Bucket>,
    /// Bucket handle whose signatures are valid for browsers (public endpoint).
    public_bucket: Box<Bucket>,
    create_bucket: bool,
    name: String,
    region: Region,
    credentials: Credentials,
}

fn unavailable(e: impl std::fmt::Display) -> StorageError {
    StorageError::Unavailable(e.to_string())
}

fn is_not_found(e: &S3Error) -> bool {
    matches!(e, S3Error::HttpFailWithBody(404, _))
}

impl S3Store {
    /// Prepares bucket handles from settings; makes no network call.
    pub fn new(settings: &S3Settings) -> Result<Self, StorageError> {
        let credentials = Credentials::new(
            Some(settings.access_key.expose_secret()),
            Some(settings.secret_key.expose_secret()),
            None,
            None,
            None,
        )
        .map_err(unavailable)?;
        let region = Region::Custom {
            region: settings.region.clone(),
            endpoint: settings.endpoint.trim_end_matches('/').to_owned(),
        };
        let public_endpoint = if settings.public_endpoint.is_empty() {
            &settings.endpoint
        } else {
            &settings.public_endpoint
        };
        let public_region = Region::Custom {
            region: settings.region.clone(),
            endpoint: public_endpoint.trim_end_matches('/').to_owned(),
        };
        let bucket = Bucket::new(&settings.bucket, region.clone(), credentials.clone())
            .map_err(unavailable)?
            .with_path_style()
            .with_request_timeout(REQUEST_TIMEOUT)
            .map_err(unavailable)?;
        let public_bucket = Bucket::new(&settings.bucket, public_region, credentials.clone())
            .map_err(unavailable)?
            .with_path_style();
        Ok(Self {
            bucket,
            public_bucket,
            create_bucket: settings.create_bucket,
            name: settings.bucket.clone(),
            region,
            credentials,
        })
    }

    /// The handle used to sign URLs for browsers.
    pub fn public_bucket(&self) -> &Bucket {
        &self.public_bucket
    }

    async fn probe(&self) -> Result<(), S3Error> {
        self.bucket
            .list_page(String::new(), None, None, None, Some(1))
            .await
            .map(|_| ())
    }
}

#[async_trait]
impl ObjectStore for S3Store {
    fn kind(&self) -> &'static str {
        "s3"
    }

    async fn ensure_ready(&self) -> Result<(), StorageError> {
        match self.probe().await {
            Ok(()) => Ok(()),
            Err(e) if is_not_found(&e) && self.create_bucket => {
                Bucket::create_with_path_style(
                    &self.name,
                    self.region.clone(),
                    self.credentials.clone(),
                    BucketConfiguration::default(),
                )
                .await
                .map_err(unavailable)?;
                tracing::info!(bucket = %self.name, "created S3 bucket");
                Ok(())
            }
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn health(&self) -> Result<(), StorageError> {
        self.probe().await.map_err(unavailable)
    }

    async fn put(
        &self,
        key: &ObjectKey,
        bytes: Vec<u8>,
        content_type: &str,
    ) -> Result<(), StorageError> {
        self.bucket
            .put_object_with_content_type(key.as_str(), &bytes, content_type)
            .await
            .map_err(unavailable)?;
        Ok(())
    }

    async fn stat(&self, key: &ObjectKey) -> Result<Option<ObjectMeta>, StorageError> {
        match self.bucket.head_object(key.as_str()).await {
            Ok((_, 404)) => Ok(None),
            Ok((head, _)) => Ok(Some(ObjectMeta {
                size_bytes: head
                    .content_length
                    .and_then(|l| u64::try_from(l).ok())
                    .unwrap_or(0),
            })),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn get(&self, key: &ObjectKey) -> Result<Option<Vec<u8>>, StorageError> {
        match self.bucket.get_object(key.as_str()).await {
            Ok(data) => Ok(Some(data.to_vec())),
            Err(e) if is_not_found(&e) => Ok(None),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn read_to(
        &self,
        key: &ObjectKey,
        sink: &mut (dyn AsyncWrite + Unpin + Send),
    ) -> Result<bool, StorageError> {
        match self.bucket.get_object_to_writer(key.as_str(), sink).await {
            Ok(404) => Ok(false),
            Ok(_) => {
                sink.flush().await?;
                Ok(true)
            }
            Err(e) if is_not_found(&e) => Ok(false),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn write_from(
        &self,
        key: &ObjectKey,
        mut source: &mut (dyn AsyncRead + Unpin + Send),
        content_type: &str,
    ) -> Result<u64, StorageError> {
        // rust-s3 sizes its parallel parts from the machine's free memory (up to ten 8 MiB
        // parts, each held about three times over); two in flight keep one stream's
        // memory bounded (a few tens of MiB) whatever the machine, still overlapping
        // reading and sending.
        let put = self
            .bucket
            .put_object_stream_builder(key.as_str())
            .with_content_type(content_type)
            .with_max_concurrent_chunks(MAX_PARTS_IN_FLIGHT)
            .execute_stream(&mut source)
            .await
            .map_err(unavailable)?;
        Ok(u64::try_from(put.uploaded_bytes()).unwrap_or(0))
    }

    async fn delete(&self, key: &ObjectKey) -> Result<(), StorageError> {
        match self.bucket.delete_object(key.as_str()).await {
            Ok(_) => Ok(()),
            Err(e) if is_not_found(&e) => Ok(()),
            Err(e) => Err(unavailable(e)),
        }
    }

    async fn rename(&self, from: &ObjectKey, to: &ObjectKey) -> Result<(), StorageError> {
        self.bucket
            .copy_object_internal(from.as_str(), to.as_str())
            .await
            .map_err(unavailable)?;
        self.delete(from).await
    }

    async fn list(&self, prefix: &str) -> Result<Vec<ListedObject>, StorageError> {
        let pages = self
            .bucket
            .list(prefix.to_owned(), None)
            .await
            .map_err(unavailable)?;
        Ok(pages
            .into_iter()
            .flat_map(|p| p.contents)
            .map(|o| ListedObject {
                key: o.key,
                size_bytes: o.size,
                modified: chrono::DateTime::parse_from_rfc3339(&o.last_modified)
                    .map(|d| d.with_timezone(&chrono::Utc))
                    .unwrap_or_else(|_| chrono::Utc::now()),
            })
            .collect())
    }

    async fn presign_put(
        &self,
        key: &ObjectKey,
        content_type: &str,
        content_length: u64,
        ttl: Duration,
    ) -> Result<Presigned, StorageError> {
        let mut headers = http::HeaderMap::new();
        headers.insert(
            http::header::CONTENT_TYPE,
            content_type.parse().map_err(unavailable)?,
        );
        headers.insert(
            http::header::CONTENT_LENGTH,
            content_length.to_string().parse().map_err(unavailable)?,
        );
        let url = self
            .public_bucket
            .presign_put(key.as_str(), expiry_secs(ttl), Some(headers), None)
            .await
            .map_err(unavailable)?;
        let headers = [("Content-Type".to_owned(), content_type.to_owned())].into();
        Ok(Presigned { url, headers })
    }

    async fn presign_get_as(
        &self,
        key: &ObjectKey,
        filename: &str,
        content_type: &str,
        disposition: Disposition,
        ttl: Duration,
    ) -> Result<String, StorageError> {
        let queries = [
            (
                "response-content-disposition".to_owned(),
                disposition.header_value(filename),
            ),
            ("response-content-type".to_owned(), content_type.to_owned()),
        ]
        .into();
        self.public_bucket
            .presign_get(key.as_str(), expiry_secs(ttl), Some(queries))
            .await
            .map_err(unavailable)
    }
}
