//! Unit checks of `analyze` and `check_expression` through one terse helper.

use flowc_compiler::{ExprEnv, NoImports, SourceFile, analyze, check_expression, ty::Ty};

fn codes(source: &str) -> Vec<String> {
    let analysis = analyze(
        vec![SourceFile {
            path: "main.flow".into(),
            text: source.into(),
        }],
        &NoImports,
    );
    analysis
        .diagnostics
        .iter()
        .map(|d| format!("{} {}", d.diagnostic.code, d.diagnostic.message))
        .collect()
}

#[test]
fn reports_names_and_types() {
    let found = codes(
        r#"
type Order = { id: string, total: float }
workflow w(order: Order) -> { ok: bool } {
  on manual
  let x = order.totl
  let y = ordr.id
  step a = http GET "https://x/${secrets.k}"
  return { ok: 1 }
}
"#,
    );
    eprintln!("{found:#?}");
    assert!(found.iter().any(|c| c.starts_with("E0402")));
    assert!(found.iter().any(|c| c.starts_with("E0301")));
    assert!(found.iter().any(|c| c.starts_with("E0410")));
    assert!(found.iter().any(|c| c.starts_with("E0401")));
}

#[test]
fn checks_a_standalone_expression() {
    let env = ExprEnv {
        variables: vec![("input".into(), Ty::Json)],
        ..ExprEnv::default()
    };
    let checked = check_expression("[1, 2, 3].map(x => x * 2).sum()", &env);
    assert!(checked.diagnostics.is_empty(), "{:?}", checked.diagnostics);
    assert_eq!(checked.ty, Ty::Int);
    let checked = check_expression("input.items", &env);
    assert_eq!(checked.ty, Ty::Json);
    let checked = check_expression("1 + \"a\"", &env);
    assert!(checked.expr.is_none());
}
