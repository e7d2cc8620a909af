fn main() {
    let path = std::env::args().nth(1).unwrap_or_default();
    let src = std::fs::read_to_string(&path).unwrap_or_default();
    let p = flowc_compiler::syntax::parse(&src);
    for d in &p.diagnostics {
        print!(
            "{}",
            flowc_compiler::diagnostic::render(d, &path, &src, false)
        );
    }
    if std::env::args().nth(2).is_some() {
        println!("{:#?}", p.module);
    }
}
