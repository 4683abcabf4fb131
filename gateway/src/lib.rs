//! Cartorio's ingestion gateway.
//!
//! The pipeline (identify -> authenticate -> rate-limit -> bounded read ->
//! validate -> sink | quarantine) is not built yet: until it is, every
//! ingest is refused with 503 and a problem body saying so, so that no
//! client mistakes this listener for one that stores data.

use ::http::{HeaderValue, Method, Request, Response, StatusCode, header};
use cartorio_platform::http::{Body, Handler, RequestBody, common_route, problem};
use cartorio_platform::{Shutdown, http};
use std::net::SocketAddr;
use tokio::net::TcpListener;

#[derive(Clone, Default)]
pub struct GatewayService;

impl Handler for GatewayService {
    async fn handle(&self, req: Request<RequestBody>, _peer: SocketAddr) -> Response<Body> {
        let path = req.uri().path();
        if req.method() == Method::GET
            && let Some(resp) = common_route(path)
        {
            return resp;
        }
        if path.starts_with("/v1/ingest/") {
            metrics::counter!("cartorio_gateway_requests_total", "outcome" => "unavailable").increment(1);
            let mut resp = problem(
                StatusCode::SERVICE_UNAVAILABLE,
                "pipeline_not_enabled",
                "the ingestion pipeline is not enabled in this build; nothing was stored",
            );
            resp.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("3600"));
            return resp;
        }
        problem(StatusCode::NOT_FOUND, "no_route", "no such route")
    }
}

pub async fn run(listener: TcpListener, shutdown: Shutdown) {
    http::serve(listener, GatewayService, shutdown, "gateway").await;
}
