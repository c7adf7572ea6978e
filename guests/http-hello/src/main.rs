//! The smallest wasi:http function: `Hello from a wasi:http function` and a newline for
//! any request, with `content-type: text/plain`. Written on the `wasip2` bindings
//! alone, with no async runtime to start, so that what a benchmark of it measures is
//! the engine's cost of a request rather than a guest library's.

use wasip2::http::types::{
    Fields, IncomingRequest, OutgoingBody, OutgoingResponse, ResponseOutparam,
};

/// The whole body of every answer.
const HELLO: &[u8] = b"Hello from a wasi:http function\n";

struct Hello;

impl wasip2::exports::http::incoming_handler::Guest for Hello {
    fn handle(_request: IncomingRequest, response_out: ResponseOutparam) {
        let headers = Fields::from_list(&[("content-type".to_string(), b"text/plain".to_vec())])
            .expect("a valid header");
        let response = OutgoingResponse::new(headers);
        let body = response.body().expect("the body, taken once");
        ResponseOutparam::set(response_out, Ok(response));
        let mut out = body.write().expect("the body's stream, taken once");
        // Up to 4096 bytes go in one blocking write; an error here means the reader went
        // away, and there is nobody left to tell.
        if out.blocking_write_and_flush(HELLO).is_err() {
            return;
        }
        drop(out);
        let _ = OutgoingBody::finish(body, None);
    }
}

wasip2::http::proxy::export!(Hello);

fn main() {}
