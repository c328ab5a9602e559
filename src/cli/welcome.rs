//! What `serve` prints when it is up: where to reach the gateway, and with
//! `--demo` the tokens it signed and the requests to try first.

use crate::config::Settings;

/// The tokens `serve --demo` signs for a newcomer.
pub(super) struct DemoTokens {
    pub(super) admin: String,
    pub(super) user: String,
    /// A reviewer of the census sample's organisation.
    pub(super) reviewer: String,
}

pub(super) fn print_welcome(settings: &Settings, port: u16, demo_tokens: Option<&DemoTokens>) {
    let host = settings
        .bind
        .rsplit_once(':')
        .map(|(h, _)| h)
        .unwrap_or("127.0.0.1");
    let host = if host == "0.0.0.0" || host == "[::]" {
        "127.0.0.1"
    } else {
        host
    };
    let base = format!("http://{host}:{port}");
    println!("Kaifang is listening on {base}");
    println!("  API docs:     {base}/docs/");
    println!("  datasets:     curl '{base}/v1/datasets'");
    println!(
        "  query:        curl '{base}/v1/datasets/nyc-flights-2013/rows?filter=carrier%20%3D%20%27UA%27&limit=5'"
    );
    println!(
        "  export:       curl -o flights.csv '{base}/v1/datasets/nyc-flights-2013/export?format=csv'"
    );
    println!(
        "  masked:       curl '{base}/v1/datasets/faa-planes-nyc-2013/rows?select=tailnum,manufacturer&limit=3'   (tailnum is masked outside us-faa)"
    );
    if let Some(t) = demo_tokens {
        println!("  tokens signed with a secret made for this run, valid 12 hours:");
        println!("    admin:      {}", t.admin);
        println!("    registered: {}", t.user);
        println!("    reviewer:   {}  (us-census-bureau)", t.reviewer);
        println!(
            "  conditional:  the census sample answers 403 to the registered token until its reviewer approves a request:"
        );
        println!(
            "    curl -X POST -H 'Authorization: Bearer <registered token>' -H 'Content-Type: application/json' '{base}/v1/datasets/us-census-acs-2012-sample/access-requests' -d '{{\"purpose\": \"commuting study for the transport plan\", \"duration_days\": 30, \"accept_terms\": true}}'"
        );
        println!(
            "    curl -H 'Authorization: Bearer <reviewer token>' '{base}/v1/access-requests?status=pending'"
        );
        println!(
            "    curl -X POST -H 'Authorization: Bearer <reviewer token>' -H 'Content-Type: application/json' '{base}/v1/access-requests/<id>/approve' -d '{{}}'"
        );
        println!(
            "  publish:      curl -X PUT -H 'Authorization: Bearer <admin token>' -H 'Content-Type: text/csv' --data-binary @file.csv '{base}/v1/datasets/<slug>/data'"
        );
        println!(
            "  audit log:    curl -H 'Authorization: Bearer <admin token>' '{base}/v1/admin/audit'"
        );
    }
}
