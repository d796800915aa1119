//! Routes as data. Each router lists its routes as [`Endpoint`]s, registers exactly that list,
//! and hands out its (method, path) pairs, so the access test (tests/api/access.rs) sees every
//! route that exists and fails for one it has no rule for.

use actix_web::http::Method;
use actix_web::{FromRequest, Handler, Responder, Route, web};

/// One route: the method and path pattern it answers, and its handler.
pub struct Endpoint {
    pub method: Method,
    pub path: &'static str,
    route: Route,
}

/// The route answering `method` on `path` with `handler`.
pub fn at<F, Args>(method: Method, path: &'static str, handler: F) -> Endpoint
where
    F: Handler<Args>,
    Args: FromRequest + 'static,
    F::Output: Responder + 'static,
{
    Endpoint {
        route: web::method(method.clone()).to(handler),
        method,
        path,
    }
}

/// Mounts every endpoint, in order (a literal path before a pattern that would match it).
pub fn register(cfg: &mut web::ServiceConfig, endpoints: Vec<Endpoint>) {
    for endpoint in endpoints {
        cfg.route(endpoint.path, endpoint.route);
    }
}

/// The (method, path pattern) of each endpoint.
pub fn table(endpoints: Vec<Endpoint>) -> Vec<(Method, &'static str)> {
    endpoints.into_iter().map(|e| (e.method, e.path)).collect()
}
