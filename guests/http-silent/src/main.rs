//! A wasi:http function that breaks the contract: its handler returns without calling
//! `response-outparam.set`, so the engine has no response to give (a 502 at the
//! gateway). Written on the `wasip2` bindings, since a guest library would not let it.

use wasip2::http::types::{IncomingRequest, ResponseOutparam};

struct Silent;

impl wasip2::exports::http::incoming_handler::Guest for Silent {
    fn handle(_request: IncomingRequest, _response_out: ResponseOutparam) {}
}

wasip2::http::proxy::export!(Silent);

fn main() {}
