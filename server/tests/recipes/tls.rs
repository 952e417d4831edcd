//! `just run-tls`, with the certificate of `just cert`: the release server over HTTPS, the stream
//! over HTTP/2, until Ctrl-C.

use reqwest::{Method, StatusCode, Version};

use crate::{
    recipe::{ANSWER_DEADLINE, Recipe, one_recipe_at_a_time, workspace_root},
    support::{TestApp, free_port, tls::client_trusting},
};

#[tokio::test]
#[ignore = "runs `just run-tls` for real: `just test-recipes`"]
async fn run_tls_serves_https_and_the_stream_over_http2_until_ctrl_c() {
    let _turn = one_recipe_at_a_time().await;
    let port = free_port();
    let mut run = Recipe::start(
        &["run-tls"],
        &[("PINGSTREAM_TLS_PORT", port.to_string())],
        &[port],
    );
    run.wait_listening(port).await;
    // `just cert` has written (or kept) the certificate by the time the server listens.
    let cert = workspace_root().join("target/tls/cert.pem");
    let pem = std::fs::read(&cert).unwrap_or_else(|err| panic!("{}: {err}", cert.display()));
    let app = run
        .wait_for(
            "/healthz over HTTPS and HTTP/2",
            ANSWER_DEADLINE,
            async || {
                let app = TestApp::at(port).over_h2_with(client_trusting(&pem));
                let response = app
                    .request(Method::GET, "/healthz")
                    .send()
                    .await
                    .map_err(|err| err.to_string())?;
                match (response.status(), response.version()) {
                    (StatusCode::OK, Version::HTTP_2) => Ok(app),
                    other => Err(format!("/healthz answered {other:?}")),
                }
            },
        )
        .await;

    let page = run
        .within("page over HTTPS", ANSWER_DEADLINE, app.get_page("/"))
        .await;
    assert_eq!(page.status(), StatusCode::OK, "the page over HTTPS");
    assert_eq!(page.version(), Version::HTTP_2, "the page's HTTP version");
    // open_stream checks the stream's HTTP version too; the ping decodes as a shared::Ping.
    let (ping, newest) = run
        .within("ping over HTTP/2", ANSWER_DEADLINE, async {
            let ping = app.open_stream(None).await.next_ping().await;
            (ping, app.last_id().await)
        })
        .await;
    let newest = newest.expect("the server has published a ping");
    assert_eq!(ping.id.epoch, newest.epoch, "the stream is this server's");

    run.stop_and_check().await;
}
