//! The project generator: deterministic, realistic `.flow` files in any quantity.
//!
//! A throughput figure is only worth as much as the input it was measured on. The
//! examples are too few to time, so this module writes projects that read like
//! the examples: record types with optional fields and literal unions, connections
//! with auth, retry and circuit breakers, workflows started by webhooks, schedules
//! and events, HTTP steps with options and typed responses, `let` with mappings,
//! lambdas and interpolated strings, `if`/`else`, `match`, `for` with concurrency,
//! `try`/`catch`, `parallel`, `emit`, approvals, callbacks and test blocks, with
//! doc, line and block comments between them. Every file must parse without a
//! diagnostic, and the project must type-check without one: names are unique
//! across the project (each file prefixes its declarations with a tag of its own),
//! every expression is generated for the type its place wants, and a binding
//! nothing reads gets a leading `_`. The `parse` and `check` commands verify that
//! before they time anything.
//!
//! The output depends on nothing but the requested size: a tiny linear
//! congruential generator stands in for a random number crate, so two machines
//! generate byte-identical projects and their figures can be compared.

/// How much to generate.
#[derive(Clone, Copy, Debug)]
pub struct Options {
    /// Total lines across all files (the result is within one workflow of it).
    pub lines: usize,
    /// How many files to spread them over.
    pub files: usize,
}

/// One generated file: its name and its text.
#[derive(Clone, Debug)]
pub struct File {
    pub name: String,
    pub source: String,
}

/// Generates a whole project: the numbered files, then the shared files some of
/// them import (`shared/order_common.flow`).
pub fn project(options: Options) -> Vec<File> {
    let files = options.files.max(1);
    let mut rng = Lcg::new(0x5eed_f10c);
    let mut total = 0usize;
    let mut out = Vec::with_capacity(files);
    let mut shared = vec![false; DOMAINS.len()];
    for index in 0..files {
        // Aim each file at the running total, so overshoot in one file is taken
        // back from the next and the project lands close to `lines`.
        let goal = options.lines * (index + 1) / files;
        let target = goal.saturating_sub(total).max(1);
        let which = (index + rng.below(3)) % DOMAINS.len();
        let domain = &DOMAINS[which];
        let imports = rng.chance(30);
        shared[which] |= imports;
        let source = FileGen::new(&mut rng, domain, index, imports).generate(target);
        total += source.bytes().filter(|&byte| byte == b'\n').count();
        out.push(File {
            name: format!("{index:04}_{}.flow", domain.plural),
            source,
        });
    }
    for (domain, _) in DOMAINS.iter().zip(&shared).filter(|(_, used)| **used) {
        out.push(File {
            name: shared_name(domain),
            source: shared_file(domain),
        });
    }
    out
}

/// Knuth's MMIX linear congruential generator; the high bits are used, the low
/// bits of an LCG being poor.
struct Lcg(u64);

impl Lcg {
    fn new(seed: u64) -> Lcg {
        Lcg(seed)
    }

    fn next(&mut self) -> u32 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) as u32
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        self.next() as usize % n
    }

    /// A number in `low..=high`.
    fn range(&mut self, low: usize, high: usize) -> usize {
        low + self.below(high.saturating_sub(low) + 1)
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len())]
    }
}

/// A business domain: the vocabulary one file is written in.
struct Domain {
    /// `order`: the entity, in snake case.
    noun: &'static str,
    /// `Order`: its type name.
    type_name: &'static str,
    plural: &'static str,
    /// Scalar fields of the entity with their types.
    fields: &'static [(&'static str, &'static str)],
    /// The list field and the fields of its elements.
    items: (&'static str, &'static [(&'static str, &'static str)]),
    /// Status values, for literal unions and `match`.
    statuses: &'static [&'static str],
    /// Events this domain raises.
    events: &'static [&'static str],
}

const DOMAINS: &[Domain] = &[
    Domain {
        noun: "order",
        type_name: "Order",
        plural: "orders",
        fields: &[
            ("order_id", "string"),
            ("customer_email", "string"),
            ("currency", "\"EUR\" | \"USD\" | \"GBP\""),
            ("total_cents", "int"),
            ("placed_at", "time"),
            ("notes", "string?"),
            ("gift", "bool"),
        ],
        items: (
            "lines",
            &[
                ("sku", "string"),
                ("quantity", "int"),
                ("unit_price_cents", "int"),
            ],
        ),
        statuses: &["pending", "paid", "shipped", "cancelled"],
        events: &["order_paid", "order_cancelled", "sku_low"],
    },
    Domain {
        noun: "invoice",
        type_name: "Invoice",
        plural: "invoices",
        fields: &[
            ("invoice_id", "string"),
            ("number", "string"),
            ("amount_cents", "int"),
            ("due_at", "time"),
            ("customer_id", "string"),
            ("overdue_days", "int?"),
        ],
        items: (
            "entries",
            &[
                ("description", "string"),
                ("amount_cents", "int"),
                ("tax_rate", "float"),
            ],
        ),
        statuses: &["draft", "open", "paid", "void"],
        events: &["invoice_overdue", "invoice_paid"],
    },
    Domain {
        noun: "ticket",
        type_name: "Ticket",
        plural: "tickets",
        fields: &[
            ("ticket_id", "string"),
            ("subject", "string"),
            ("requester_email", "string"),
            ("priority", "\"low\" | \"normal\" | \"high\" | \"urgent\""),
            ("opened_at", "time"),
            ("assignee", "string?"),
            ("sla", "duration"),
        ],
        items: (
            "comments",
            &[("author", "string"), ("body", "string"), ("public", "bool")],
        ),
        statuses: &["new", "open", "pending", "solved"],
        events: &["ticket_escalated", "ticket_solved"],
    },
    Domain {
        noun: "shipment",
        type_name: "Shipment",
        plural: "shipments",
        fields: &[
            ("shipment_id", "string"),
            ("carrier", "\"dhl\" | \"ups\" | \"fedex\""),
            ("tracking_number", "string"),
            ("weight_grams", "int"),
            ("shipped_at", "time?"),
            ("insured", "bool"),
        ],
        items: (
            "parcels",
            &[
                ("parcel_id", "string"),
                ("weight_grams", "int"),
                ("fragile", "bool"),
            ],
        ),
        statuses: &["label_created", "in_transit", "delivered", "returned"],
        events: &["shipment_delayed", "shipment_delivered"],
    },
    Domain {
        noun: "payment",
        type_name: "Payment",
        plural: "payments",
        fields: &[
            ("transaction_id", "string"),
            ("amount", "float"),
            ("currency", "\"BRL\" | \"USD\" | \"EUR\""),
            ("customer_id", "string"),
            ("card_last4", "string?"),
            ("captured", "bool"),
        ],
        items: (
            "refunds",
            &[
                ("refund_id", "string"),
                ("amount", "float"),
                ("reason", "string?"),
            ],
        ),
        statuses: &["authorized", "captured", "failed", "refunded"],
        events: &["payment_failed", "payment_captured"],
    },
    Domain {
        noun: "subscription",
        type_name: "Subscription",
        plural: "subscriptions",
        fields: &[
            ("subscription_id", "string"),
            ("plan", "\"free\" | \"team\" | \"enterprise\""),
            ("seats", "int"),
            ("renews_at", "time"),
            ("trial", "bool"),
            ("coupon", "string?"),
        ],
        items: (
            "addons",
            &[
                ("code", "string"),
                ("quantity", "int"),
                ("monthly_cents", "int"),
            ],
        ),
        statuses: &["trialing", "active", "past_due", "cancelled"],
        events: &["subscription_renewed", "subscription_churned"],
    },
    Domain {
        noun: "lead",
        type_name: "Lead",
        plural: "leads",
        fields: &[
            ("lead_id", "string"),
            ("email", "string"),
            ("company", "string?"),
            ("score", "float"),
            ("source", "\"ads\" | \"referral\" | \"organic\""),
            ("created_at", "time"),
        ],
        items: (
            "touches",
            &[("channel", "string"), ("at", "time"), ("clicked", "bool")],
        ),
        statuses: &["new", "qualified", "nurturing", "lost"],
        events: &["lead_qualified", "lead_assigned"],
    },
    Domain {
        noun: "employee",
        type_name: "Employee",
        plural: "employees",
        fields: &[
            ("employee_id", "string"),
            ("full_name", "string"),
            ("work_email", "string"),
            ("department", "string"),
            ("start_date", "time"),
            ("manager_id", "string?"),
            ("remote", "bool"),
        ],
        items: (
            "accounts",
            &[
                ("system", "string"),
                ("username", "string"),
                ("admin", "bool"),
            ],
        ),
        statuses: &["offer", "onboarding", "active", "offboarded"],
        events: &["employee_started", "employee_left"],
    },
    Domain {
        noun: "product",
        type_name: "Product",
        plural: "products",
        fields: &[
            ("product_id", "string"),
            ("title", "string"),
            ("price_cents", "int"),
            ("stock", "int"),
            ("published", "bool"),
            ("category", "string?"),
        ],
        items: (
            "variants",
            &[("sku", "string"), ("stock", "int"), ("price_cents", "int")],
        ),
        statuses: &["draft", "listed", "sold_out", "archived"],
        events: &["product_sold_out", "price_changed"],
    },
    Domain {
        noun: "incident",
        type_name: "Incident",
        plural: "incidents",
        fields: &[
            ("incident_id", "string"),
            ("title", "string"),
            ("severity", "\"sev1\" | \"sev2\" | \"sev3\""),
            ("service", "string"),
            ("started_at", "time"),
            ("resolved_at", "time?"),
        ],
        items: (
            "alerts",
            &[
                ("alert_id", "string"),
                ("source", "string"),
                ("firing", "bool"),
            ],
        ),
        statuses: &["triggered", "acknowledged", "mitigated", "resolved"],
        events: &["incident_opened", "incident_resolved"],
    },
];

/// Services a file may connect to: name and base URL.
const SERVICES: &[(&str, &str)] = &[
    ("crm", "https://crm.example.com/api/v2"),
    ("billing", "https://billing.example.com/v1"),
    ("warehouse", "https://warehouse.example.com/api"),
    ("slack", "https://slack.com/api"),
    ("search", "https://search.example.com/v3"),
    ("ledger", "https://ledger.example.com/api/v1"),
    ("mailer", "https://mail.example.com/v1"),
    ("tickets", "https://support.example.com/api/v2"),
    ("analytics", "https://events.example.com/collect"),
    ("identity", "https://id.example.com/scim/v2"),
];

const VERBS: &[&str] = &[
    "fetch", "load", "sync", "notify", "post", "update", "create", "charge", "enrich", "lookup",
    "archive", "score", "reserve", "publish", "index", "tag", "verify", "close", "assign",
    "remind",
];

const WORKFLOW_VERBS: &[&str] = &[
    "process",
    "handle",
    "reconcile",
    "escalate",
    "review",
    "import",
    "backfill",
    "route",
    "settle",
    "audit",
    "onboard",
    "expire",
    "refresh",
    "triage",
];

const CHANNELS: &[&str] = &[
    "#ops", "#alerts", "#sales", "#support", "#finance", "#deploys", "#growth",
];

const CRONS: &[&str] = &[
    "0 * * * *",
    "*/15 * * * *",
    "0 6 * * 1-5",
    "30 2 * * *",
    "0 0 1 * *",
];

const ZONES: &[&str] = &[
    "Europe/Lisbon",
    "America/New_York",
    "Asia/Tokyo",
    "UTC",
    "Europe/Berlin",
];

const DURATIONS: &[&str] = &[
    "500ms", "2s", "10s", "30s", "1m", "5m", "15m", "1h", "6h", "24h", "7d",
];

/// Comments above statements, in the proportion the examples have them.
const COMMENTS: &[&str] = &[
    "// Idempotent: the step id makes a retried run skip what already happened.",
    "// The provider is slow at the top of the hour; give it room.",
    "// Keep the payload small: the journal stores every response.",
    "// Best effort: a failure here must not fail the run.",
    "// Only for records we have not seen yet.",
    "// Fan out a few at a time, so the API's rate limit holds.",
    "// TODO: move to the batch endpoint once it is out of beta.",
    "// Money stays in integer cents until it is shown to a person.",
    "// Parked on disk until the answer comes; nothing is held open.",
];

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE"];

/// Words that make each file's declarations its own: names of types, connections,
/// events, functions, workflows and webhook paths are project-wide, so each file
/// prefixes them with its tag (`north_order_total`, `NorthOrder`).
const TAGS: &[&str] = &[
    "north",
    "south",
    "east",
    "west",
    "retail",
    "partner",
    "legacy",
    "emea",
    "apac",
    "latam",
    "direct",
    "wholesale",
    "market",
    "mobile",
    "web",
    "store",
    "enterprise",
    "trial",
    "premium",
    "core",
    "edge",
    "beta",
    "local",
    "global",
    "export",
];

/// The tag of file `index`: unique across the project.
fn tag_of(index: usize) -> String {
    let word = TAGS[index % TAGS.len()];
    match index / TAGS.len() {
        0 => word.to_string(),
        round => format!("{word}{round}"),
    }
}

/// The file a domain's shared declarations live in, imported by some files.
fn shared_name(domain: &Domain) -> String {
    format!("shared/{}_common.flow", domain.noun)
}

/// The shared file of a domain: a type and a function other files may import.
fn shared_file(domain: &Domain) -> String {
    let n = domain.noun;
    let t = domain.type_name;
    let mut out = String::new();
    out.push_str(&format!(
        "// Shared by every {n} workflow: imported as \"./shared/{n}_common.flow\".\n\n"
    ));
    out.push_str(&format!(
        "/// Who changed a {n}, and when.\ntype {t}Audit = {{ actor: string, action: string, at: time }}\n\n"
    ));
    out.push_str(&format!(
        "/// The reference people quote: \"{}-\" and the id in upper case.\nfn {n}_ref(id: string) -> string = \"{}-${{id.upper()}}\"\n",
        &t[..3].to_uppercase(),
        &t[..3].to_uppercase()
    ));
    out
}

/// The kinds of value a `let` may hold, so that later expressions use it rightly.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Str,
    Bool,
    /// Lists, records and optionals: only passed on whole (JSON bodies, `set`).
    Other,
}

/// An event of this file: its name and whether its payload is the entity type.
struct Event {
    name: String,
    entity: bool,
}

/// A workflow of this file, for `call` and tests.
struct Workflow {
    name: String,
    /// Takes the entity as its one parameter (scheduled workflows take none).
    input: bool,
    returns: bool,
}

/// Generates one file into a string, one line at a time.
struct FileGen<'a> {
    rng: &'a mut Lcg,
    domain: &'static Domain,
    index: usize,
    /// `north`: the prefix of this file's declarations.
    tag: String,
    out: String,
    lines: usize,
    indent: usize,
    /// Whether the file imports its domain's shared file.
    imports_shared: bool,
    /// Whether the entity type has an `owner` field.
    has_owner: bool,
    connections: Vec<String>,
    events: Vec<Event>,
    workflows: Vec<Workflow>,
    /// Webhook paths claimed so far in this file.
    hooks: usize,
    /// Per workflow: names in scope.
    scope: Scope,
    /// For fresh names, unique within the file.
    fresh: usize,
    /// Offsets of bindings the checker reports when unused (`let`s and typed step
    /// results), and the names read so far: an unread one gets a leading `_`.
    bindings: Vec<(usize, String)>,
    used: std::collections::HashSet<String>,
}

#[derive(Default)]
struct Scope {
    /// The workflow's input: its parameter, or a `let` of a fetched entity.
    param: String,
    /// Step names whose `.body` is a `{ id, ok, url, attempts }` result.
    steps: Vec<String>,
    /// Step names whose `.body` is a page of entities.
    pages: Vec<String>,
    /// Plain values bound by `let`.
    lets: Vec<(String, Kind)>,
    /// `let` names of pending approvals and callbacks, awaited later.
    pending: Vec<String>,
}

impl<'a> FileGen<'a> {
    fn new(
        rng: &'a mut Lcg,
        domain: &'static Domain,
        index: usize,
        imports_shared: bool,
    ) -> FileGen<'a> {
        FileGen {
            rng,
            domain,
            index,
            tag: tag_of(index),
            out: String::with_capacity(24 * 1024),
            lines: 0,
            indent: 0,
            imports_shared,
            has_owner: false,
            connections: Vec::new(),
            events: Vec::new(),
            workflows: Vec::new(),
            hooks: 0,
            scope: Scope::default(),
            fresh: 0,
            bindings: Vec::new(),
            used: std::collections::HashSet::new(),
        }
    }

    fn line(&mut self, text: &str) {
        if !text.is_empty() {
            for _ in 0..self.indent {
                self.out.push_str("  ");
            }
            self.out.push_str(text);
        }
        self.out.push('\n');
        self.lines += 1;
    }

    /// Writes `head {`, runs `body` one level deeper, then writes `tail`.
    fn block(&mut self, head: &str, tail: &str, body: impl FnOnce(&mut Self)) {
        self.line(head);
        self.indent += 1;
        body(self);
        self.indent -= 1;
        self.line(tail);
    }

    /// Records that the last line written binds `name`, which the checker reports
    /// if nothing reads it.
    fn bind(&mut self, name: &str) {
        let end = self.out.len().saturating_sub(1);
        let start = self.out[..end].rfind('\n').map_or(0, |i| i + 1);
        if let Some(at) = self.out[start..end].find(name) {
            self.bindings.push((start + at, name.to_string()));
        }
    }

    fn tname(&self, suffix: &str) -> String {
        format!("{}{}{suffix}", capitalize(&self.tag), self.domain.type_name)
    }

    fn fname(&self, stem: &str) -> String {
        format!("{}_{stem}", self.tag)
    }

    fn generate(mut self, target: usize) -> String {
        let d = self.domain;
        self.line(&format!(
            "// Generated by flowc-bench: {} workflows, file {}.",
            d.noun, self.index
        ));
        self.line("// Realistic but synthetic: the services and secrets below do not exist.");
        if self.imports_shared {
            self.line(&format!("import \"./shared/{}_common.flow\"", d.noun));
        }
        self.line("");
        self.types();
        self.event_decls();
        self.connection_decls();
        self.functions();
        while self.lines + 4 < target {
            if self.workflows.iter().any(|w| w.input) && self.rng.chance(12) {
                self.test_decl();
            } else {
                self.workflow();
            }
        }
        // An unread binding gets a leading `_`, as a person would write it.
        let mut out = String::with_capacity(self.out.len() + self.bindings.len());
        let mut last = 0;
        for (at, name) in &self.bindings {
            if !self.used.contains(name) {
                out.push_str(&self.out[last..*at]);
                out.push('_');
                last = *at;
            }
        }
        out.push_str(&self.out[last..]);
        out
    }

    // ------------------------------------------------------------ declarations

    fn types(&mut self) {
        let d = self.domain;
        let (list, item_fields) = d.items;
        let item_type = self.tname("Item");
        self.line(&format!("/// One of the `{list}` of a {}.", d.noun));
        let fields: Vec<String> = item_fields
            .iter()
            .map(|(name, ty)| format!("{name}: {ty}"))
            .collect();
        self.line(&format!("type {item_type} = {{ {} }}", fields.join(", ")));
        self.line("");

        self.line(&format!(
            "/// A {} as the upstream system sends it.",
            d.noun
        ));
        self.has_owner = self.rng.chance(60);
        let entity = self.tname("");
        self.block(&format!("type {entity} = {{"), "}", |g| {
            for (name, ty) in d.fields {
                g.line(&format!("{name}: {ty},"));
            }
            let statuses: Vec<String> = d.statuses.iter().map(|s| format!("\"{s}\"")).collect();
            g.line(&format!("status: {},", statuses.join(" | ")));
            g.line(&format!("{list}: [{item_type}],"));
            if g.has_owner {
                g.line("owner: { id: string, name: string, email?: string }?,");
            }
            if g.rng.chance(50) {
                g.line("metadata?: { source: string, tags: [string], version: int },");
            }
            g.line("type: string,");
        });
        self.line("");

        self.line(&format!(
            "type {} = {{ id: string, ok: bool, url: string?, attempts: int }}",
            self.tname("Result")
        ));
        if self.rng.chance(50) {
            self.line(&format!(
                "type {} = {{ items: [{entity}], next_cursor: string?, total: int }}",
                self.tname("Page")
            ));
        } else {
            self.line(&format!(
                "type {} = {{ items: [{entity}], next_cursor: string? }}",
                self.tname("Page")
            ));
        }
        self.line("");
    }

    fn event_decls(&mut self) {
        let d = self.domain;
        let count = self.rng.range(1, d.events.len());
        for (k, event) in d.events[..count].iter().enumerate() {
            let name = format!("{}_{event}", self.tag);
            self.line(&format!("/// Raised when a {} reaches `{event}`.", d.noun));
            // The first is always the entity, so `on event` has one to listen to.
            let entity = k == 0 || self.rng.chance(50);
            if entity {
                self.line(&format!("event {name} = {}", self.tname("")));
            } else {
                self.line(&format!(
                    "event {name} = {{ id: string, status: string, at: time, reason?: string }}"
                ));
            }
            self.events.push(Event { name, entity });
        }
        self.line("");
    }

    fn connection_decls(&mut self) {
        let count = self.rng.range(2, 4);
        let start = self.rng.below(SERVICES.len());
        for k in 0..count {
            let (service, url) = SERVICES[(start + k) % SERVICES.len()];
            let name = format!("{service}_{}", self.tag);
            if self.rng.chance(50) {
                self.line(&format!(
                    "/// The {service} API, as the {} team uses it.",
                    self.tag
                ));
            }
            self.block(&format!("connection {name} {{"), "}", |g| {
                g.line(&format!("base_url: \"{url}\""));
                match g.rng.below(4) {
                    0 => g.line(&format!("auth: bearer {{ token: secrets.{name}_token }}")),
                    1 => g.line(&format!(
                        "auth: api_key {{ header: \"X-API-Key\", value: secrets.{name}_key }}"
                    )),
                    2 => g.line(&format!(
                        "auth: basic {{ username: \"flowc\", password: secrets.{name}_password }}"
                    )),
                    _ => g.block("auth: oauth2_client_credentials {", "}", |g| {
                        g.line(&format!(
                            "token_url: \"https://auth.example.com/oauth/token\", client_id: secrets.{name}_client_id,"
                        ));
                        g.line(&format!(
                            "client_secret: secrets.{name}_client_secret, scopes: [\"{service}:read\", \"{service}:write\"],"
                        ));
                    }),
                }
                let timeout = *g.rng.pick(&["5s", "10s", "20s", "30s"]);
                g.line(&format!("timeout: {timeout}"));
                if g.rng.chance(70) {
                    let attempts = g.rng.range(2, 6);
                    let (initial, max) = *g.rng.pick(&[("1s", "8s"), ("500ms", "4s"), ("2s", "30s")]);
                    g.line(&format!(
                        "retry: exponential(attempts: {attempts}, initial: {initial}, max: {max})"
                    ));
                }
                if g.rng.chance(30) {
                    g.line("circuit_breaker: { failures: 5, reset_after: 30s }");
                }
            });
            self.line("");
            self.connections.push(name);
        }
    }

    fn functions(&mut self) {
        let d = self.domain;
        let (list, item_fields) = d.items;
        let id = d.fields[0].0;
        let n = d.noun;
        let t = self.tname("");
        let total = self.fname(&format!("{n}_total"));

        match item_fields
            .iter()
            .find(|(_, ty)| *ty == "int" || *ty == "float")
        {
            Some((field, ty)) => {
                self.line(&format!("/// The sum of `{field}` over the {list}."));
                self.line(&format!(
                    "fn {total}({n}: {t}) -> {ty} = {n}.{list}.map(x => x.{field}).sum()"
                ));
            }
            None => {
                let (flag, _) = item_fields
                    .iter()
                    .find(|(_, ty)| *ty == "bool")
                    .copied()
                    .unwrap_or(item_fields[0]);
                self.line(&format!("/// How many of the {list} are `{flag}`."));
                self.line(&format!(
                    "fn {total}({n}: {t}) -> int = {n}.{list}.count(x => x.{flag})"
                ));
            }
        }
        self.line("");
        self.line(&format!(
            "/// A one-line label for messages: \"{t} 42 (open)\"."
        ));
        self.line(&format!(
            "fn {}({n}: {t}) -> string = \"{t} ${{{n}.{id}}} (${{{n}.status}})\"",
            self.fname(&format!("{n}_label"))
        ));
        self.line("");
        let threshold = self.rng.range(2, 50);
        self.line(&format!("/// Whether a {n} needs a person to look at it."));
        self.line(&format!(
            "fn {}({n}: {t}, limit: int) -> bool =",
            self.fname("needs_review")
        ));
        match d.fields.iter().find(|(_, ty)| *ty == "bool") {
            Some((flag, _)) => self.line(&format!(
                "  len({n}.{list}) > limit || {n}.{flag} && {total}({n}) >= {threshold}"
            )),
            None => self.line(&format!(
                "  len({n}.{list}) > limit || {total}({n}) >= {threshold}"
            )),
        }
        self.line("");
        self.line("/// Two digits, zero-padded: 5 → \"05\".");
        self.line(&format!(
            "fn {}(n: int) -> string = if n < 10 then \"0${{n}}\" else to_string(n)",
            self.fname("pad2")
        ));
        self.line("");
        self.line(&format!(
            "/// How urgently a {n} in each status is handled."
        ));
        self.line(&format!(
            "fn {}(status: string) -> int =",
            self.fname("urgency")
        ));
        self.indent += 1;
        self.block("match status {", "}", |g| {
            for (rank, status) in d.statuses.iter().enumerate() {
                g.line(&format!("\"{status}\" => {},", rank * 10));
            }
            g.line("_ => -1,");
        });
        self.indent -= 1;
        self.line("");
    }

    fn test_decl(&mut self) {
        let d = self.domain;
        let n = d.noun;
        let candidates: Vec<usize> = (0..self.workflows.len())
            .filter(|&k| self.workflows[k].input)
            .collect();
        let chosen = *self.rng.pick(&candidates);
        let (workflow, returns) = (
            self.workflows[chosen].name.clone(),
            self.workflows[chosen].returns,
        );
        let conn = self.rng.pick(&self.connections).clone();
        let status = *self.rng.pick(d.statuses);
        self.block(
            &format!("test \"{workflow} handles {} {status} {n}\" {{", article(status)),
            "}",
            |g| {
                g.line(&format!(
                    "mock http GET {conn} \"/{}/{n}-1\" => {{ status: 200, body: {{ id: \"{n}-1\", ok: true, url: null, attempts: 1 }} }}",
                    d.plural
                ));
                g.block(&format!("mock http POST {conn} \"/{}\" => {{", d.plural), "}", |g| {
                    g.line("status: 201");
                    g.line(&format!("body: {{ id: \"{n}-2\", ok: true, url: \"https://example.com/{n}-2\", attempts: 1 }}"));
                });
                g.line("");
                g.line(&format!("step out = call {workflow}({{"));
                g.indent += 1;
                for (name, ty) in d.fields {
                    let value = sample_value(g.rng, ty, name);
                    g.line(&format!("{name}: {value},"));
                }
                if g.has_owner {
                    g.line("owner: null,");
                }
                g.line(&format!("status: \"{status}\", {}: [], type: \"test\",", d.items.0));
                g.indent -= 1;
                g.line("})");
                if returns {
                    g.line(&format!("assert out.id == \"{n}-1\" || out.handled >= 0"));
                    if g.rng.chance(50) {
                        g.line(&format!("assert len(out.id) > 0, \"the {n} keeps its id\""));
                    }
                } else {
                    g.line("assert out == null, \"the workflow returns nothing\"");
                }
            },
        );
        self.line("");
    }

    // ------------------------------------------------------------ workflows

    fn workflow(&mut self) {
        let d = self.domain;
        let verb = *self.rng.pick(WORKFLOW_VERBS);
        let name = format!(
            "{verb}_{}_{}_{}",
            self.tag,
            d.noun,
            self.workflows.len() + 1
        );
        let param = d.noun.to_string();
        self.scope = Scope {
            param: param.clone(),
            ..Scope::default()
        };
        // A scheduled workflow takes no input: it fetches what it works on.
        let scheduled = self.rng.chance(20);
        let returns = self.rng.chance(60);
        self.line(&format!(
            "/// {} step for one {}: calls the services it needs and tells the people who care.",
            capitalize(verb),
            d.noun
        ));
        if self.rng.chance(15) {
            self.line(&format!(
                "/* Owner: team-{}. Reviewed quarterly; see the runbook. */",
                d.plural
            ));
        }
        let ret = if returns {
            " -> { id: string, status: string, handled: int, note: string? }".to_string()
        } else {
            String::new()
        };
        let params = if scheduled {
            String::new()
        } else {
            format!("{param}: {}", self.tname(""))
        };
        let head = format!("workflow {name}({params}){ret} {{");
        let body_lines = self.rng.range(30, 70);
        self.block(&head, "}", |g| {
            if scheduled {
                g.schedules();
            } else {
                g.triggers();
            }
            if g.rng.chance(40) {
                g.settings();
            }
            g.line("");
            if scheduled {
                let conn = g.rng.pick(&g.connections).clone();
                let batch = g.fresh("next");
                g.line(&format!(
                    "step {batch} = http GET {conn} \"/{}/next\" -> {}",
                    d.plural,
                    g.tname("")
                ));
                g.line(&format!("let {param} = {batch}.body"));
            }
            let start = g.lines;
            while g.lines < start + body_lines {
                g.statement(0);
                if g.rng.chance(35) {
                    g.line("");
                }
            }
            while let Some(pending) = g.scope.pending.pop() {
                let id = g.fresh("decision");
                g.line(&format!("step {id} = await {pending}"));
            }
            if returns {
                let handled = g.value(1);
                let note = g.string_lit();
                g.line(&format!(
                    "return {{ id: {param}.{}, status: {param}.status, handled: {handled}, note: {note} }}",
                    d.fields[0].0
                ));
            } else if g.rng.chance(30) {
                g.line("return");
            }
        });
        self.line("");
        self.workflows.push(Workflow {
            name,
            input: !scheduled,
            returns,
        });
    }

    fn schedules(&mut self) {
        for _ in 0..self.rng.range(1, 2) {
            let cron = *self.rng.pick(CRONS);
            if self.rng.chance(60) {
                let zone = *self.rng.pick(ZONES);
                self.line(&format!("on schedule \"{cron}\" tz \"{zone}\""));
            } else {
                self.line(&format!("on schedule \"{cron}\""));
            }
        }
        if self.rng.chance(50) {
            self.line("on manual");
        }
    }

    fn triggers(&mut self) {
        let d = self.domain;
        // Which triggers, decided first: `webhook` may be null unless every trigger
        // is a webhook.
        let mut kinds: Vec<bool> = (0..self.rng.range(1, 3))
            .map(|_| self.rng.below(3) < 2)
            .collect();
        let manual = self.rng.chance(50);
        let all_webhooks = !manual && kinds.iter().all(|&webhook| webhook);
        for webhook in kinds.drain(..) {
            if webhook {
                self.hooks += 1;
                let path = format!("/hooks/{}/{}/{}", self.tag, d.plural, self.hooks);
                self.block(&format!("on webhook POST \"{path}\" {{"), "}", |g| {
                    match g.rng.below(3) {
                        0 => g.line(&format!(
                            "verify: header_token(\"X-Webhook-Token\", secrets.{}_hook)",
                            d.plural
                        )),
                        1 => g.line(&format!(
                            "verify: hmac_sha256(header: \"X-Signature\", secret: secrets.{}_signing, encoding: \"hex\")",
                            d.plural
                        )),
                        _ => g.line("verify: standard_webhooks(secrets.storefront_webhook_secret)"),
                    }
                    if g.rng.chance(70) {
                        g.line(&format!("idempotency_key: {}.{}", d.noun, d.fields[0].0));
                    } else if all_webhooks {
                        g.line("idempotency_key: webhook.headers[\"x-delivery-id\"]");
                    } else {
                        g.line(&format!(
                            "idempotency_key: webhook?.headers.\"x-delivery-id\" ?? {}.{}",
                            d.noun, d.fields[0].0
                        ));
                    }
                    if g.rng.chance(40) {
                        g.line("respond: accepted");
                    }
                });
            } else {
                let entity: Vec<usize> = (0..self.events.len())
                    .filter(|&k| self.events[k].entity)
                    .collect();
                let event = &self.events[*self.rng.pick(&entity)].name;
                self.line(&format!("on event {event}"));
            }
        }
        if manual {
            self.line("on manual");
        }
    }

    fn settings(&mut self) {
        let d = self.domain;
        self.block("settings {", "}", |g| {
            if g.rng.chance(40) {
                g.line("// One at a time, so two runs never race on the same record.");
            }
            let concurrency = g.rng.range(1, 20);
            g.line(&format!("max_concurrency: {concurrency}"));
            // Above the longest wait the body can reach (E0502 otherwise).
            let timeout = *g.rng.pick(&["10d", "14d", "30d"]);
            g.line(&format!("timeout: {timeout}"));
            if g.rng.chance(60) {
                g.line(&format!(
                    "on_success: \"https://hooks.example.com/flowc/{}/succeeded\"",
                    d.plural
                ));
                g.line(&format!(
                    "on_failure: \"https://hooks.example.com/flowc/{}/failed\"",
                    d.plural
                ));
            }
        });
    }

    /// Runs `body` in a nested scope: the names it binds are gone afterwards.
    fn scoped(&mut self, body: impl FnOnce(&mut Self)) {
        let (steps, pages, lets) = (
            self.scope.steps.len(),
            self.scope.pages.len(),
            self.scope.lets.len(),
        );
        self.indent += 1;
        body(self);
        self.indent -= 1;
        self.scope.steps.truncate(steps);
        self.scope.pages.truncate(pages);
        self.scope.lets.truncate(lets);
    }

    fn fresh(&mut self, stem: &str) -> String {
        self.fresh += 1;
        format!("{stem}_{}", self.fresh)
    }

    /// A name from `names`, marked as read.
    fn read(&mut self, names: &[String]) -> String {
        let name = self.rng.pick(names).clone();
        self.used.insert(name.clone());
        name
    }

    fn step_name(&mut self) -> String {
        let steps = std::mem::take(&mut self.scope.steps);
        let name = self.read(&steps);
        self.scope.steps = steps;
        name
    }

    fn page_name(&mut self) -> String {
        let pages = std::mem::take(&mut self.scope.pages);
        let name = self.read(&pages);
        self.scope.pages = pages;
        name
    }

    /// A `let` of one of `kinds`, if any is in scope, marked as read.
    fn let_of(&mut self, kinds: &[Kind]) -> Option<String> {
        let names: Vec<String> = self
            .scope
            .lets
            .iter()
            .filter(|(_, kind)| kinds.contains(kind))
            .map(|(name, _)| name.clone())
            .collect();
        if names.is_empty() {
            return None;
        }
        Some(self.read(&names))
    }

    // ------------------------------------------------------------ statements

    fn statement(&mut self, depth: usize) {
        if self.rng.chance(20) {
            let comment = *self.rng.pick(COMMENTS);
            self.line(comment);
        }
        let nested = depth < 2;
        let roll = self.rng.below(100);
        match roll {
            0..=21 => self.http_step(),
            22..=31 => self.simple_let(),
            32..=36 => self.let_match(),
            37..=40 => self.let_record(),
            41..=49 if nested => self.if_stmt(depth),
            50..=54 if nested => self.match_stmt(depth),
            55..=59 if nested => self.for_stmt(depth),
            60..=63 if nested => self.try_stmt(depth),
            64..=66 if nested => self.parallel_stmt(),
            67..=70 => self.emit_stmt(),
            71..=73 => self.set_stmt(),
            74..=75 => self.wait_step(),
            76..=78 => self.await_step(),
            79..=80 if depth == 0 => self.human_step(),
            81..=82 if !self.workflows.is_empty() => self.call_step(),
            83..=85 => {
                if self.rng.chance(50) {
                    self.line(
                        "// Pure and deterministic: re-evaluated on replay, never journaled.",
                    );
                }
                self.simple_let();
            }
            _ => self.simple_let(),
        }
    }

    fn http_step(&mut self) {
        let d = self.domain;
        let verb = *self.rng.pick(VERBS);
        let name = self.fresh(verb);
        let method = *self.rng.pick(METHODS);
        let target = match self.rng.below(5) {
            0 => {
                let channel_host = self.rng.below(50);
                format!(
                    "\"https://hooks{channel_host}.example.com/{}/notify\"",
                    d.plural
                )
            }
            1 => format!(
                "\"https://api.example.com/{}/${{{}.{}}}/events\"",
                d.plural, self.scope.param, d.fields[0].0
            ),
            2 if !self.scope.steps.is_empty() => {
                let step = self.step_name();
                format!("({step}.body.url ?? \"https://fallback.example.com\")")
            }
            _ => {
                let conn = self.rng.pick(&self.connections).clone();
                format!(
                    "{conn} \"/{}/${{{}.{}}}\"",
                    d.plural, self.scope.param, d.fields[0].0
                )
            }
        };
        let (typed, kind) = match self.rng.below(4) {
            0 => (String::new(), 0),
            1 => (format!(" -> {}", self.tname("Page")), 1),
            2 => (format!(" -> {}", self.tname("Result")), 2),
            _ => (
                " -> { id: string, ok: bool, url: string?, attempts: int, errors: [string] }"
                    .to_string(),
                2,
            ),
        };
        if self.rng.chance(20) {
            self.line(&format!("step {name} = http {method} {target}{typed}"));
            if kind > 0 {
                self.bind(&name);
            }
        } else {
            let head = format!("step {name} = http {method} {target} {{");
            let tail = format!("}}{typed}");
            self.block(&head, &tail, |g| {
                if kind > 0 {
                    g.bind(&name);
                }
                g.http_options(method);
            });
        }
        match kind {
            1 => self.scope.pages.push(name),
            2 => self.scope.steps.push(name),
            _ => {}
        }
    }

    fn http_options(&mut self, method: &str) {
        let d = self.domain;
        let p = self.scope.param.clone();
        if self.rng.chance(40) {
            self.line(&format!(
                "headers: {{ \"X-Request-Id\": {p}.{}, Accept: \"application/json\" }}",
                d.fields[0].0
            ));
        }
        if method == "GET" || self.rng.chance(20) {
            let limit = self.rng.range(10, 200);
            self.line(&format!(
                "query: {{ limit: {limit}, cursor: context.cursor ?? \"\", status: {p}.status }}"
            ));
        }
        if method != "GET" && method != "DELETE" {
            if self.rng.chance(20) {
                let s = self.string_lit();
                self.line(&format!("body: {s}"));
            } else {
                self.block("json: {", "}", |g| {
                    let count = g.rng.range(2, 6);
                    for field in g.field_names(count) {
                        let value = g.expr(1);
                        g.line(&format!("{field}: {value}"));
                    }
                    if g.rng.chance(40) {
                        let (list, item_fields) = d.items;
                        let (first, _) = item_fields[0];
                        let (second, _) = item_fields[1];
                        g.line(&format!(
                            "{list}: {p}.{list}.map(x => {{ {first}: x.{first}, {second}: x.{second} }})"
                        ));
                    }
                });
            }
        }
        if self.rng.chance(25) {
            self.line("auth: bearer { token: secrets.service_token }");
        }
        if self.rng.chance(30) {
            let timeout = *self.rng.pick(&["5s", "15s", "1m"]);
            self.line(&format!("timeout: {timeout}"));
        }
        if self.rng.chance(25) {
            let attempts = self.rng.range(2, 5);
            self.line(&format!(
                "retry: exponential(attempts: {attempts}, initial: 500ms, max: 10s)"
            ));
        }
        if self.rng.chance(30) {
            let expect =
                *self
                    .rng
                    .pick(&["expect: [200]", "expect: [200, 201, 202]", "expect: [204]"]);
            self.line(expect);
        }
    }

    fn simple_let(&mut self) {
        let stem = self.let_stem();
        let name = self.fresh(stem);
        let (value, kind) = match self.rng.below(6) {
            0 => (self.string_lit(), Kind::Str),
            1 => (self.mapping(), Kind::Other),
            2 => {
                let cond = self.cond(1);
                let a = self.value(1);
                let b = self.value(1);
                (format!("if {cond} then {a} else {b}"), Kind::Int)
            }
            3 => {
                let ty = *self
                    .rng
                    .pick(&["int", "string", "bool", "float", "[string]"]);
                let (value, kind) = match ty {
                    "int" => (self.value(1), Kind::Int),
                    "string" => (self.string_lit(), Kind::Str),
                    "bool" => (self.cond(1), Kind::Bool),
                    "float" => (
                        format!("{}.{} * 1.5", self.rng.below(100), self.rng.below(10)),
                        Kind::Other,
                    ),
                    _ => (
                        format!("[{}, {}]", self.string_lit(), self.string_lit()),
                        Kind::Other,
                    ),
                };
                self.line(&format!("let {name}: {ty} = {value}"));
                self.bind(&name);
                self.scope.lets.push((name, kind));
                return;
            }
            4 => (self.cond(2), Kind::Bool),
            _ => (self.value(2), Kind::Int),
        };
        self.line(&format!("let {name} = {value}"));
        self.bind(&name);
        self.scope.lets.push((name, kind));
    }

    fn let_stem(&mut self) -> &'static str {
        self.rng.pick::<&str>(&[
            "total",
            "label",
            "count",
            "summary",
            "reason",
            "threshold",
            "cutoff",
            "flagged",
            "picked",
            "owner",
            "message",
            "amount",
        ])
    }

    fn let_match(&mut self) {
        let d = self.domain;
        let name = self.fresh("tier");
        let p = self.scope.param.clone();
        let numbers = self.rng.chance(50);
        self.block(&format!("let {name} = match {p}.status {{"), "}", |g| {
            g.bind(&name);
            let count = g.rng.range(2, d.statuses.len() - 1);
            let mut statuses = d.statuses[..count].iter();
            let arm = |g: &mut Self| {
                if numbers { g.value(1) } else { g.string_lit() }
            };
            if let (Some(a), Some(b)) = (statuses.next(), statuses.next()) {
                let value = arm(g);
                g.line(&format!("\"{a}\" | \"{b}\" => {value},"));
            }
            for status in statuses {
                let value = arm(g);
                g.line(&format!("\"{status}\" => {value},"));
            }
            if !numbers && g.rng.chance(50) {
                g.line("other => \"unknown status ${other}\",");
            } else if numbers && g.rng.chance(50) {
                g.line("_ => 0,");
            } else {
                g.line("_ => null,");
            }
        });
        self.scope.lets.push((name, Kind::Other));
    }

    fn let_record(&mut self) {
        let name = self.fresh("payload");
        self.block(&format!("let {name} = {{"), "}", |g| {
            g.bind(&name);
            let count = g.rng.range(2, 5);
            for field in g.field_names(count) {
                let value = g.expr(1);
                if g.rng.chance(30) {
                    g.line(&format!("{field}: {value},"));
                } else {
                    g.line(&format!("{field}: {value}"));
                }
            }
        });
        self.scope.lets.push((name, Kind::Other));
    }

    fn if_stmt(&mut self, depth: usize) {
        let cond = self.cond(2);
        self.line(&format!("if {cond} {{"));
        self.scoped(|g| {
            let count = g.rng.range(1, 4);
            for _ in 0..count {
                g.statement(depth + 1);
            }
            if g.rng.chance(25) {
                let message = g.string_lit();
                g.line(&format!("fail {message}"));
            }
        });
        match self.rng.below(3) {
            0 => self.line("}"),
            1 => {
                let cond = self.cond(1);
                self.line(&format!("}} else if {cond} {{"));
                self.scoped(|g| g.statement(depth + 1));
                self.line("} else {");
                self.scoped(|g| g.statement(depth + 1));
                self.line("}");
            }
            _ => {
                self.line("} else {");
                self.scoped(|g| {
                    let count = g.rng.range(1, 3);
                    for _ in 0..count {
                        g.statement(depth + 1);
                    }
                });
                self.line("}");
            }
        }
    }

    fn match_stmt(&mut self, depth: usize) {
        let d = self.domain;
        let p = self.scope.param.clone();
        self.block(&format!("match {p}.status {{"), "}", |g| {
            let count = g.rng.range(2, d.statuses.len() - 1);
            for status in &d.statuses[..count] {
                if g.rng.chance(60) {
                    g.line(&format!("\"{status}\" => {{"));
                    g.scoped(|g| {
                        let n = g.rng.range(1, 3);
                        for _ in 0..n {
                            g.statement(depth + 1);
                        }
                    });
                    g.line("}");
                } else {
                    // A single statement arm; the comma keeps the next pattern out
                    // of the statement's expression.
                    let message = g.string_lit();
                    g.line(&format!("\"{status}\" => fail {message},"));
                }
            }
            g.line("_ => {}");
        });
    }

    fn for_stmt(&mut self, depth: usize) {
        let d = self.domain;
        let (list, item_fields) = d.items;
        let p = self.scope.param.clone();
        let item = self.fresh("item");
        let concurrency = if self.rng.chance(70) {
            format!(" (concurrency: {})", self.rng.range(2, 10))
        } else {
            String::new()
        };
        let (field, _) = *self.rng.pick(item_fields);
        let collect = self.rng.chance(50).then(|| self.fresh("results"));
        let head = match &collect {
            Some(name) => format!("let {name} = for {item} in {p}.{list}{concurrency} {{"),
            None => format!("for {item} in {p}.{list}{concurrency} {{"),
        };
        self.line(&head);
        if let Some(name) = &collect {
            self.bind(name);
        }
        self.scoped(|g| {
            let conn = g.rng.pick(&g.connections).clone();
            let step = g.fresh("each");
            g.block(
                &format!("step {step} = http POST {conn} \"/{list}/${{{item}.{field}}}\" {{"),
                "} -> { ok: bool, id: string }",
                |g| {
                    g.bind(&step);
                    g.line(&format!(
                        "json: {{ {field}: {item}.{field}, parent: {p}.{} }}",
                        d.fields[0].0
                    ));
                },
            );
            if g.rng.chance(50) {
                g.statement(depth + 1);
            }
            if collect.is_some() {
                g.used.insert(step.clone());
                g.line(&format!("yield {step}.body"));
            }
        });
        self.line("}");
        if let Some(name) = collect {
            self.scope.lets.push((name, Kind::Other));
        }
    }

    fn try_stmt(&mut self, depth: usize) {
        self.line("try {");
        self.scoped(|g| {
            g.http_step();
            if g.rng.chance(50) {
                g.statement(depth + 1);
            }
        });
        let err = self.fresh("err");
        self.line(&format!("}} catch {err} {{"));
        let channel = *self.rng.pick(CHANNELS);
        let step = self.fresh("report");
        self.scoped(|g| {
            g.block(
                &format!("step {step} = http POST \"https://slack.com/api/chat.postMessage\" {{"),
                "}",
                |g| {
                    g.line(&format!(
                        "json: {{ channel: \"{channel}\", text: \"Step failed: ${{{err}.message}}\" }}"
                    ));
                },
            );
        });
        self.line("}");
    }

    fn parallel_stmt(&mut self) {
        // Branches do not see each other's steps; single-statement branches'
        // names would be visible afterwards, but are not used.
        self.block("parallel {", "}", |g| {
            let count = g.rng.range(2, 3);
            if g.rng.chance(50) {
                g.scoped(|g| {
                    g.indent -= 1;
                    for _ in 0..count {
                        let (steps, pages) = (g.scope.steps.len(), g.scope.pages.len());
                        g.http_step();
                        g.scope.steps.truncate(steps);
                        g.scope.pages.truncate(pages);
                    }
                    g.indent += 1;
                });
            } else {
                // Every branch a block: a block right after a statement would be
                // read as that statement's field block.
                for _ in 0..count {
                    g.line("{");
                    g.scoped(|g| {
                        g.http_step();
                        g.simple_let();
                    });
                    g.line("}");
                }
            }
        });
    }

    fn emit_stmt(&mut self) {
        let d = self.domain;
        let k = self.rng.below(self.events.len());
        let (event, entity) = (self.events[k].name.clone(), self.events[k].entity);
        let p = self.scope.param.clone();
        if entity {
            self.line(&format!("emit {event} {p}"));
        } else {
            let reason = self.string_lit();
            self.line(&format!(
                "emit {event} {{ id: {p}.{}, status: {p}.status, at: now(), reason: {reason} }}",
                d.fields[0].0
            ));
        }
    }

    fn set_stmt(&mut self) {
        let key = *self
            .rng
            .pick(&["cursor", "last_seen", "last_id", "processed", "seen"]);
        let value = if self.rng.chance(50) {
            self.path()
        } else {
            self.value(1)
        };
        self.line(&format!("set context.{key} = {value}"));
    }

    fn wait_step(&mut self) {
        let d = self.domain;
        let name = self.fresh("pause");
        if self.rng.chance(70) {
            // Not the longest: settings' timeouts must stay above the bound.
            let duration = *self.rng.pick(&DURATIONS[..DURATIONS.len() - 1]);
            self.line(&format!("step {name} = wait {duration}"));
        } else {
            let p = self.scope.param.clone();
            match d.fields.iter().find(|(_, ty)| *ty == "time") {
                Some((field, _)) => {
                    let delay = *self.rng.pick(&["1h", "24h", "30m"]);
                    self.line(&format!("step {name} = wait until {p}.{field} + {delay}"));
                }
                None => self.line(&format!("step {name} = wait until now() + 15m")),
            }
        }
    }

    fn await_step(&mut self) {
        let d = self.domain;
        let name = self.fresh("reply");
        let p = self.scope.param.clone();
        let id = d.fields[0].0;
        let timeout = *self.rng.pick(&["15m", "1h", "24h"]);
        if self.rng.chance(60) {
            let k = self.rng.below(self.events.len());
            let (event, entity) = (self.events[k].name.clone(), self.events[k].entity);
            self.line(&format!("step {name} = await event {event} as e"));
            if entity {
                let status = *self.rng.pick(d.statuses);
                self.line(&format!(
                    "  where e.{id} == {p}.{id} && e.status != \"{status}\" (timeout: {timeout})"
                ));
            } else {
                self.line(&format!(
                    "  where e.id == {p}.{id} && e.status != \"void\" (timeout: {timeout})"
                ));
            }
        } else {
            self.hooks += 1;
            self.line(&format!(
                "step {name} = await webhook POST \"/{}/{}/replies/{}\" as r: {{ reference: string, status: string }}",
                self.tag, d.plural, self.hooks
            ));
            self.line(&format!(
                "  where r.reference == {p}.{id} (timeout: {timeout}, verify: header_token(\"X-Token\", secrets.reply_token))"
            ));
        }
    }

    fn human_step(&mut self) {
        let d = self.domain;
        let p = self.scope.param.clone();
        if self.rng.chance(50) {
            let name = self.fresh("review");
            self.block(&format!("let {name} = approval("), ")", |g| {
                g.line("timeout: 24h,");
                g.line(&format!(
                    "message: \"Approve {} ${{{p}.{}}}? It is ${{{p}.status}}.\",",
                    d.noun, d.fields[0].0
                ));
            });
            let step = self.fresh("notify");
            self.block(
                &format!("step {step} = http POST \"https://chat.example.com/hooks/approvers\" {{"),
                "}",
                |g| {
                    g.line(&format!(
                        "json: {{ approve_url: {name}.approve_url, reject_url: {name}.reject_url }}"
                    ));
                },
            );
            self.scope.pending.push(name);
        } else {
            let name = self.fresh("cb");
            self.line(&format!(
                "let {name} = callback(timeout: 1h) -> {{ job_id: string, status: \"completed\" | \"failed\" }}"
            ));
            let conn = self.rng.pick(&self.connections).clone();
            let step = self.fresh("submit");
            self.line(&format!(
                "step {step} = http POST {conn} \"/jobs\" {{ json: {{ notify_url: {name}.url }} }}"
            ));
            self.scope.pending.push(name);
        }
    }

    fn call_step(&mut self) {
        let k = self.rng.below(self.workflows.len());
        let (workflow, input) = (self.workflows[k].name.clone(), self.workflows[k].input);
        let name = self.fresh("child");
        if input {
            let p = self.scope.param.clone();
            self.line(&format!("step {name} = call {workflow}({p})"));
        } else {
            self.line(&format!("step {name} = call {workflow}()"));
        }
    }

    // ------------------------------------------------------------ expressions

    /// `count` distinct field names for a record literal, now and then a keyword
    /// or a quoted one.
    fn field_names(&mut self, count: usize) -> Vec<&'static str> {
        let mut names = vec![
            "id",
            "reference",
            "amount",
            "note",
            "type",
            "status",
            "source",
            "\"X-Trace\"",
            "requested_by",
            "count",
            "channel",
            "text",
            "priority",
        ];
        let mut out = Vec::with_capacity(count);
        while out.len() < count && !names.is_empty() {
            out.push(names.swap_remove(self.rng.below(names.len())));
        }
        out
    }

    /// A value to store in `context`: a path into the input or an earlier step.
    fn path(&mut self) -> String {
        let d = self.domain;
        let p = self.scope.param.clone();
        match self.rng.below(8) {
            0..=2 => {
                let (field, _) = *self.rng.pick(d.fields);
                format!("{p}.{field}")
            }
            3 if !self.scope.steps.is_empty() => {
                let step = self.step_name();
                let field = *self.rng.pick(&["id", "attempts", "url"]);
                format!("{step}.body.{field}")
            }
            4 if !self.scope.lets.is_empty() => self
                .let_of(&[Kind::Int, Kind::Str, Kind::Bool, Kind::Other])
                .unwrap_or_else(|| format!("{p}.status")),
            5 if self.has_owner => format!("{p}.owner?.name"),
            6 => {
                let (list, item_fields) = d.items;
                let (field, _) = *self.rng.pick(item_fields);
                format!("{p}.{list}[0].{field}")
            }
            _ => format!(
                "context.{}",
                self.rng.pick(&["cursor", "last_seen", "retries"])
            ),
        }
    }

    /// An `int` read from the input or an earlier step.
    fn numeric_path(&mut self) -> String {
        let d = self.domain;
        let p = self.scope.param.clone();
        let (list, item_fields) = d.items;
        let fields: Vec<&str> = d
            .fields
            .iter()
            .filter(|(_, ty)| *ty == "int" || *ty == "float")
            .map(|(name, _)| *name)
            .collect();
        let items: Vec<&str> = item_fields
            .iter()
            .filter(|(_, ty)| *ty == "int")
            .map(|(name, _)| *name)
            .collect();
        let int = |name: &str| {
            d.fields
                .iter()
                .any(|(field, ty)| *field == name && *ty == "int")
        };
        match self.rng.below(5) {
            0 if !fields.is_empty() => {
                let field = *self.rng.pick(&fields);
                if int(field) {
                    format!("{p}.{field}")
                } else {
                    format!("round({p}.{field})")
                }
            }
            1 if !self.scope.steps.is_empty() => {
                format!("{}.body.attempts", self.step_name())
            }
            2 if !items.is_empty() => format!("{p}.{list}[0].{}", self.rng.pick(&items)),
            3 if !self.scope.pages.is_empty() => {
                format!("len({}.body.items)", self.page_name())
            }
            _ => format!("len({p}.{list})"),
        }
    }

    /// `!flag` for a boolean in scope.
    fn negated_flag(&mut self) -> String {
        let d = self.domain;
        let p = self.scope.param.clone();
        let flags: Vec<&str> = d
            .fields
            .iter()
            .filter(|(_, ty)| *ty == "bool")
            .map(|(name, _)| *name)
            .collect();
        match self.rng.below(4) {
            0 if !flags.is_empty() => format!("!{p}.{}", self.rng.pick(&flags)),
            1 if !self.scope.steps.is_empty() => {
                format!("!{}.body.ok", self.step_name())
            }
            2 => match self.let_of(&[Kind::Bool]) {
                Some(name) => format!("!{name}"),
                None => format!("!{}({p}, 3)", self.fname("needs_review")),
            },
            _ => format!(
                "!{}({p}, {})",
                self.fname("needs_review"),
                self.rng.range(1, 9)
            ),
        }
    }

    /// An `int`: a path, literal, call or arithmetic, never a bare comparison.
    fn value(&mut self, depth: usize) -> String {
        let d = self.domain;
        let p = self.scope.param.clone();
        let (list, item_fields) = d.items;
        match self.rng.below(if depth == 0 { 6 } else { 12 }) {
            0 => self.numeric_path(),
            1 => format!("{}", self.rng.range(0, 5000)),
            2 => {
                let fallback = self.rng.below(10);
                let key = *self.rng.pick(&["retries", "batch_size", "offset"]);
                format!("((context.{key} ?? {fallback}) as int)")
            }
            3 => format!("len({p}.{list})"),
            4 => {
                let total = format!("{}({p})", self.fname(&format!("{}_total", d.noun)));
                let float = item_fields
                    .iter()
                    .find(|(_, ty)| *ty == "int" || *ty == "float")
                    .is_some_and(|(_, ty)| *ty == "float");
                if float {
                    format!("round({total})")
                } else {
                    total
                }
            }
            5 => self
                .let_of(&[Kind::Int])
                .unwrap_or_else(|| format!("len({p}.{list})")),
            6 => {
                let a = self.value(depth - 1);
                let b = self.value(depth - 1);
                let op = *self.rng.pick(&["+", "-", "*", "%"]);
                format!("({a} {op} {b})")
            }
            7 => {
                let a = self.value(depth - 1);
                format!("{a} * 100 / {}", self.rng.range(1, 9))
            }
            8 => {
                let field = d
                    .fields
                    .iter()
                    .skip(1)
                    .find(|(_, ty)| *ty == "string")
                    .map_or(d.fields[0].0, |(name, _)| *name);
                format!("len({p}.{field}.trim().lower())")
            }
            9 => format!("{}({p}.status)", self.fname("urgency")),
            10 => {
                let (field, ty) = *self.rng.pick(item_fields);
                match ty {
                    "int" => format!("{p}.{list}.map(x => x.{field}).sum()"),
                    "float" => format!("round({p}.{list}.map(x => x.{field}).sum())"),
                    _ => format!("{p}.{list}.count(x => {})", item_predicate("x", field, ty)),
                }
            }
            _ => format!("round({} * 1.25)", self.numeric_path()),
        }
    }

    /// A condition for an `if` head: comparisons joined by `&&` and `||`.
    fn cond(&mut self, depth: usize) -> String {
        let d = self.domain;
        let p = self.scope.param.clone();
        let (list, item_fields) = d.items;
        let atom = |g: &mut Self| -> String {
            match g.rng.below(10) {
                0 => {
                    let a = g.value(0);
                    let op = *g.rng.pick(&["==", "!=", "<", "<=", ">", ">="]);
                    let b = g.rng.below(1000);
                    format!("{a} {op} {b}")
                }
                1 => {
                    let status = *g.rng.pick(d.statuses);
                    format!("{p}.status == \"{status}\"")
                }
                2 => {
                    let a = *g.rng.pick(d.statuses);
                    let b = *g.rng.pick(d.statuses);
                    format!("{p}.status in [\"{a}\", \"{b}\"]")
                }
                3 => {
                    let (field, ty) = *g.rng.pick(item_fields);
                    format!("{p}.{list}.any(x => {})", item_predicate("x", field, ty))
                }
                4 => format!("{}({p}, {})", g.fname("needs_review"), g.rng.range(1, 20)),
                5 => g.negated_flag(),
                6 if g.has_owner => format!("{p}.owner?.email != null"),
                7 => format!("len({p}.{list}) > {}", g.rng.below(10)),
                8 => g
                    .let_of(&[Kind::Bool])
                    .unwrap_or_else(|| format!("len({p}.{list}) == 0")),
                _ => {
                    let a = g.value(1);
                    format!("{a} >= {}", g.rng.below(100))
                }
            }
        };
        let mut out = atom(self);
        let extra = if depth > 0 { self.rng.below(3) } else { 0 };
        for _ in 0..extra {
            let op = if self.rng.chance(70) { "&&" } else { "||" };
            let next = atom(self);
            if self.rng.chance(20) {
                out = format!("({out}) {op} {next}");
            } else {
                out = format!("{out} {op} {next}");
            }
        }
        out
    }

    /// Any expression that may stand as a field value of a JSON body.
    fn expr(&mut self, depth: usize) -> String {
        match self.rng.below(8) {
            0 => self.string_lit(),
            1 => self.cond(1),
            2 => {
                let cond = self.cond(0);
                let a = self.string_lit();
                let b = self.string_lit();
                format!("if {cond} then {a} else {b}")
            }
            3 => self.mapping(),
            4 => format!("[{}, {}]", self.value(0), self.value(0)),
            5 => match self.let_of(&[Kind::Int, Kind::Str, Kind::Bool, Kind::Other]) {
                Some(name) => name,
                None => self.value(depth),
            },
            _ => self.value(depth),
        }
    }

    /// A list operation with a lambda.
    fn mapping(&mut self) -> String {
        let d = self.domain;
        let p = self.scope.param.clone();
        let (list, item_fields) = d.items;
        let (field, ty) = *self.rng.pick(item_fields);
        match self.rng.below(5) {
            0 => format!("{p}.{list}.map(x => x.{field})"),
            1 => format!("{p}.{list}.filter(x => {})", item_predicate("x", field, ty)),
            2 => format!("{p}.{list}.count(x => {})", item_predicate("x", field, ty)),
            3 => format!("{p}.{list}.map(x => \"${{x.{field}}}\").join(\", \")"),
            _ => {
                // Sort by a field that is never null.
                let (key, _) = item_fields
                    .iter()
                    .find(|(_, ty)| !ty.ends_with('?'))
                    .copied()
                    .unwrap_or(item_fields[0]);
                format!(
                    "{p}.{list}.sort_by(x => x.{key}).slice(0, {})",
                    self.rng.range(1, 10)
                )
            }
        }
    }

    /// A string literal, often interpolated, now and then with escapes.
    fn string_lit(&mut self) -> String {
        let d = self.domain;
        let p = self.scope.param.clone();
        let id = d.fields[0].0;
        match self.rng.below(10) {
            0 => format!("\"{} ${{{p}.{id}}} is now ${{{p}.status}}\"", d.type_name),
            1 if self.has_owner => format!(
                "\"${{{p}.owner?.name ?? \"nobody\"}} owns {} ${{{p}.{id}}}\"",
                d.noun
            ),
            1 => format!("\"${{{}({p})}}\"", self.fname(&format!("{}_label", d.noun))),
            2 => format!(
                "\"total: ${{{}({p})}} (${{len({p}.{})}} items)\"",
                self.fname(&format!("{}_total", d.noun)),
                d.items.0
            ),
            3 => "\"tab\\tseparated\\nand \\\"quoted\\\"\"".to_string(),
            4 => format!("\"costs \\${{not interpolated}} \\u{{2014}} {}\"", d.plural),
            5 => format!(
                "\"{}-${{{}({})}}\"",
                d.noun,
                self.fname("pad2"),
                self.rng.below(60)
            ),
            6 => format!("\"{}\"", self.rng.pick(CHANNELS)),
            7 if self.imports_shared => format!("\"see ${{{}_ref({p}.{id})}}\"", d.noun),
            7 => "\"🚀 shipped, ✓ done\"".to_string(),
            8 => match self.let_of(&[Kind::Int, Kind::Str, Kind::Bool]) {
                Some(name) => format!(
                    "\"{}: ${{{name}}}\"",
                    name.trim_end_matches(char::is_numeric)
                        .trim_end_matches('_')
                ),
                None => format!("\"https://app.example.com/{}/${{{p}.{id}}}\"", d.plural),
            },
            _ => format!("\"https://app.example.com/{}/${{{p}.{id}}}\"", d.plural),
        }
    }
}

/// A condition on one element of a list, whatever its field's type.
fn item_predicate(x: &str, field: &str, ty: &str) -> String {
    match ty {
        "bool" => format!("{x}.{field}"),
        "int" => format!("{x}.{field} > 0"),
        "float" => format!("{x}.{field} > 0.5"),
        "time" => format!("{x}.{field} < now()"),
        "string" => format!("{x}.{field} != \"\""),
        _ => format!("{x}.{field} != null"),
    }
}

/// A literal of a field's type, for test inputs.
fn sample_value(rng: &mut Lcg, ty: &str, name: &str) -> String {
    if let Some(first) = ty.split('|').next()
        && first.trim().starts_with('"')
    {
        return first.trim().to_string();
    }
    match ty.trim_end_matches('?') {
        "int" => format!("{}", rng.range(1, 999)),
        "float" => format!("{}.{}", rng.range(1, 999), rng.below(100)),
        "bool" => if rng.chance(50) { "true" } else { "false" }.to_string(),
        "time" => "now()".to_string(),
        "duration" => (*rng.pick(DURATIONS)).to_string(),
        _ => format!("\"{name}-{}\"", rng.below(1000)),
    }
}

fn article(word: &str) -> &'static str {
    if word.starts_with(['a', 'e', 'i', 'o', 'u']) {
        "an"
    } else {
        "a"
    }
}

fn capitalize(word: &str) -> String {
    let mut out = String::with_capacity(word.len());
    let mut chars = word.chars();
    if let Some(first) = chars.next() {
        out.extend(first.to_uppercase());
    }
    out.push_str(chars.as_str());
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn generated_files_parse_without_diagnostics() {
        let files = project(Options {
            lines: 6_000,
            files: 12,
        });
        assert!(files.len() >= 12);
        for file in &files {
            let parse = flowc_compiler::syntax::parse(&file.source);
            if let Some(first) = parse.diagnostics.first() {
                let rendered =
                    flowc_compiler::diagnostic::render(first, &file.name, &file.source, false);
                panic!("{rendered}");
            }
        }
    }

    /// Imports resolve against the generated files, by name.
    struct Project(Vec<File>);

    impl flowc_compiler::Loader for Project {
        fn load(&self, path: &str) -> Result<String, String> {
            self.0
                .iter()
                .find(|file| file.name == path)
                .map(|file| file.source.clone())
                .ok_or_else(|| format!("no {path}"))
        }
    }

    #[test]
    fn the_generated_project_type_checks_without_diagnostics() {
        let files = project(Options {
            lines: 20_000,
            files: 40,
        });
        let roots = files
            .iter()
            .map(|file| flowc_compiler::SourceFile {
                path: file.name.clone(),
                text: file.source.clone(),
            })
            .collect();
        let analysis = flowc_compiler::analyze(roots, &Project(files));
        if let Some(first) = analysis.diagnostics.first() {
            let file = analysis.file(first.file).unwrap();
            let rendered = flowc_compiler::diagnostic::render(
                &first.diagnostic,
                &file.path,
                &file.text,
                false,
            );
            panic!(
                "{} diagnostics, the first:\n{rendered}",
                analysis.diagnostics.len()
            );
        }
    }

    #[test]
    fn the_line_count_lands_near_the_request() {
        let files = project(Options {
            lines: 20_000,
            files: 40,
        });
        let lines: usize = files.iter().map(|f| f.source.lines().count()).sum();
        assert!((19_000..=21_000).contains(&lines), "{lines} lines");
    }

    #[test]
    fn generation_is_deterministic() {
        let options = Options {
            lines: 2_000,
            files: 4,
        };
        let a: Vec<String> = project(options).into_iter().map(|f| f.source).collect();
        let b: Vec<String> = project(options).into_iter().map(|f| f.source).collect();
        assert_eq!(a, b);
    }

    #[test]
    fn tags_are_unique() {
        let tags: std::collections::HashSet<String> = (0..1_000).map(tag_of).collect();
        assert_eq!(tags.len(), 1_000);
    }
}
