//! Entry point of the wasm binary: renders [`frontend::App`] into the page's body.

fn main() {
    yew::Renderer::<frontend::App>::new().render();
}
