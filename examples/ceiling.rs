//! The HTTP ceiling for `bench/run.sh`: the smallest actix-web server that answers every
//! GET with one fixed body (the bytes Kaifang answered to the benchmark's page request),
//! with no routing, database, policy, audit or middleware. Whatever this serves per second
//! on a machine is more than any actix-web handler can; it is a measuring stick, not part
//! of the product.
//!
//!   cargo run --release --example ceiling -- BODY_FILE [ADDR, default 127.0.0.1:18097]
//!
//! Worker threads are actix's default (one per core), as in `kaifang serve`.

// A measuring tool: a missing body file or a busy port should stop it loudly at start.
#![allow(clippy::expect_used)]

use actix_web::{App, HttpResponse, HttpServer, web};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let mut args = std::env::args().skip(1);
    let body_file = args
        .next()
        .expect("usage: ceiling BODY_FILE [ADDR]: the file with the body to serve");
    let addr = args.next().unwrap_or_else(|| "127.0.0.1:18097".to_owned());
    let body = web::Bytes::from(std::fs::read(&body_file).expect("reading the body file"));
    eprintln!("ceiling: {} bytes on http://{addr}/", body.len());
    HttpServer::new(move || {
        let body = body.clone();
        App::new().default_service(web::to(move || {
            let body = body.clone();
            async move {
                HttpResponse::Ok()
                    .content_type("application/json")
                    .body(body)
            }
        }))
    })
    .bind(addr)?
    .run()
    .await
}
