//! Cross-origin access: closed unless `--allow-origin` lists the page's origin.

use std::sync::Arc;

use actix_web::{
    HttpResponse,
    body::{BoxBody, MessageBody},
    dev::{ServiceRequest, ServiceResponse},
    http::{
        Method,
        header::{self, HeaderValue},
    },
    middleware::Next,
};

/// The origins allowed to read responses cross-origin, exactly as browsers send them in
/// `Origin` (scheme, host and port, no trailing slash).
#[derive(Debug, Clone, Default)]
pub struct AllowedOrigins(Arc<[HeaderValue]>);

impl AllowedOrigins {
    /// Parses the configured origins; ones that cannot be header values are skipped with a
    /// warning.
    pub fn new(origins: &[String]) -> Self {
        let valid = origins
            .iter()
            .filter_map(|origin| {
                let origin = origin.trim().trim_end_matches('/');
                HeaderValue::from_str(origin)
                    .inspect_err(|_| tracing::warn!(origin, "ignoring an unusable --allow-origin"))
                    .ok()
            })
            .collect();
        Self(valid)
    }

    fn allows(&self, origin: &HeaderValue) -> bool {
        self.0.iter().any(|allowed| allowed == origin)
    }

    /// Middleware: echoes an allowed `Origin` in `Access-Control-Allow-Origin` (and answers its
    /// preflight requests); any other origin gets no CORS headers, so browsers keep the response
    /// from the page.
    pub async fn middleware(
        self,
        req: ServiceRequest,
        next: Next<impl MessageBody + 'static>,
    ) -> Result<ServiceResponse<BoxBody>, actix_web::Error> {
        let origin = req
            .headers()
            .get(header::ORIGIN)
            .filter(|origin| self.allows(origin))
            .cloned();
        let Some(origin) = origin else {
            return Ok(next.call(req).await?.map_into_boxed_body());
        };
        if req.method() == Method::OPTIONS
            && req
                .headers()
                .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD)
        {
            let preflight = HttpResponse::NoContent()
                .insert_header((header::ACCESS_CONTROL_ALLOW_ORIGIN, origin))
                .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "GET, HEAD"))
                .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, "last-event-id"))
                .insert_header((header::ACCESS_CONTROL_MAX_AGE, "600"))
                .insert_header((header::VARY, "Origin"))
                .finish();
            return Ok(req.into_response(preflight));
        }
        let mut response = next.call(req).await?.map_into_boxed_body();
        let headers = response.headers_mut();
        headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        headers.append(header::VARY, HeaderValue::from_static("Origin"));
        Ok(response)
    }
}
