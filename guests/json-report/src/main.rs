//! Reads an order document (JSON, or TOML when it does not start with `{`), checks it
//! (an e-mail, a SKU pattern, quantities, a currency) and prints a JSON report: the
//! totals, the problems found, and the document normalized. Large on purpose: serde's
//! derives for many types, serde_json, toml and regex make a module of a few MB, the
//! size of a real function built on them.

use std::collections::BTreeMap;
use std::io::{Read, Write};

use regex::Regex;
use serde::{Deserialize, Serialize};

/// Declares record types with serde derives, each with a `check` that names bad fields.
macro_rules! records {
    ($($name:ident { $($field:ident : $ty:ty),* $(,)? })*) => {
        $(
            #[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
            #[serde(default, deny_unknown_fields)]
            struct $name { $($field: $ty),* }

            impl $name {
                fn fields(&self) -> Vec<(&'static str, String)> {
                    vec![$((stringify!($field), format!("{:?}", self.$field))),*]
                }
            }
        )*

        #[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
        #[serde(tag = "type", rename_all = "snake_case")]
        enum Extra { $($name($name)),* }

        impl Extra {
            fn fields(&self) -> Vec<(&'static str, String)> {
                match self { $(Extra::$name(r) => r.fields()),* }
            }
        }
    };
}

records! {
    Gift { message: String, wrap: bool, from: String, to: String }
    Delivery { street: String, city: String, postcode: String, country: String, floor: Option<u32>, notes: Vec<String> }
    Pickup { store: String, slot_start: String, slot_end: String, contact: String }
    Discount { code: String, percent: f64, max_amount: Option<f64>, stackable: bool }
    Loyalty { member: String, tier: String, points: u64, expires: Option<String> }
    Invoice { company: String, vat: String, address: Vec<String>, po_number: Option<String> }
    Subscription { plan: String, interval_days: u32, skip: Vec<u32>, paused: bool }
    Warranty { product: String, years: u8, registered: bool, serial: String }
    Insurance { provider: String, policy: String, cover: f64, deductible: f64 }
    Installation { date: String, technician: Option<String>, duration_minutes: u32, tools: Vec<String> }
    Return { reason: String, items: Vec<String>, refund: f64, label: Option<String> }
    Review { stars: u8, title: String, body: String, verified: bool, photos: Vec<String> }
    Survey { answers: BTreeMap<String, String>, score: Option<u8>, consent: bool }
    Referral { by: String, code: String, reward: f64 }
    Customs { hs_code: String, origin: String, value: f64, currency: String, duties_paid: bool }
    Hazard { class: String, un_number: String, packing_group: Option<String>, limited: bool }
    Carbon { offset_kg: f64, provider: String, certificate: Option<String> }
    Accessibility { step_free: bool, lift: bool, notes: Option<String> }
    Schedule { window: Vec<String>, timezone: String, flexible: bool }
    Payment { method: String, last4: Option<String>, captured: bool, attempts: u8 }
    Bundle { name: String, skus: Vec<String>, price: f64, savings: Option<f64> }
    Preorder { release: String, deposit: f64, cancel_until: Option<String> }
    Backorder { eta_days: u32, partial: bool, notify: Vec<String> }
    Engraving { text: String, font: String, position: String, lines: u8 }
    Assembly { required: bool, minutes: u32, parts: Vec<String>, fee: f64 }
    Recycling { old_item: String, weight_kg: f64, collected: bool }
    Rental { start: String, end: String, deposit: f64, damage_waiver: bool }
    Trial { days: u16, converts_to: String, card_required: bool }
    Voucher { code: String, balance: f64, expires: Option<String>, partial_use: bool }
    Tax { region: String, rate: f64, exempt: bool, certificate: Option<String> }
    Split { parties: Vec<String>, shares: Vec<f64>, settled: bool }
    Tip { amount: f64, recipient: String, anonymous: bool }
    Donation { charity: String, amount: f64, gift_aid: bool, message: Option<String> }
    Event { venue: String, date: String, seats: Vec<String>, accessible: bool }
    Course { title: String, sessions: u16, level: String, certificate: bool }
    Membership { club: String, since: String, renewal: String, family: Vec<String> }
    Device { model: String, imei: Option<String>, trade_in: Option<f64>, unlocked: bool }
    Prescription { doctor: String, issued: String, refills: u8, controlled: bool }
    Vehicle { plate: String, make: String, year: u16, mileage: u64 }
    Pet { name: String, species: String, age_months: u16, allergies: Vec<String> }
    Locker { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Courier { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Signature { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Photo { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Reminder { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Wishlist { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Registry { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Quote { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Contract { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Lease { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Repair { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Calibration { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Inspection { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Certification { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Training { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Consultation { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Booking { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Ticket { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Parking { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Charging { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Storage { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Cleaning { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Catering { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Translation { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
    Printing { reference: String, notes: Vec<String>, amount: Option<f64>, count: u32, confirmed: bool, labels: BTreeMap<String, String> }
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Order {
    id: String,
    email: String,
    currency: String,
    lines: Vec<Line>,
    #[serde(default)]
    extras: Vec<Extra>,
    #[serde(default)]
    metadata: BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Line {
    sku: String,
    quantity: u32,
    unit_price: f64,
}

#[derive(Debug, Serialize)]
struct Report<'a> {
    id: &'a str,
    total: f64,
    items: u64,
    problems: Vec<String>,
    extras: Vec<BTreeMap<&'static str, String>>,
    order: &'a Order,
}

fn main() {
    let mut input = String::new();
    if std::io::stdin().read_to_string(&mut input).is_err() {
        eprintln!("the input is not UTF-8");
        std::process::exit(2);
    }
    let order: Result<Order, String> = if input.trim_start().starts_with('{') {
        serde_json::from_str(&input).map_err(|e| e.to_string())
    } else {
        toml::from_str(&input).map_err(|e| e.to_string())
    };
    let order = match order {
        Ok(order) => order,
        Err(error) => {
            eprintln!("not an order: {error}");
            std::process::exit(2);
        }
    };
    let email = Regex::new(r"^[\p{L}\p{N}._%+-]+@[\p{L}\p{N}.-]+\.\p{L}{2,}$").unwrap();
    let sku = Regex::new(r"^[A-Z]{3}-\d{4}(-[A-Z0-9]{2})?$").unwrap();
    let currency = Regex::new(r"^(EUR|USD|GBP|CHF|JPY|SEK|NOK|DKK|PLN|CZK)$").unwrap();
    let mut problems = Vec::new();
    if !email.is_match(&order.email) {
        problems.push(format!("email `{}` is not an address", order.email));
    }
    if !currency.is_match(&order.currency) {
        problems.push(format!("currency `{}` is not accepted", order.currency));
    }
    for (i, line) in order.lines.iter().enumerate() {
        if !sku.is_match(&line.sku) {
            problems.push(format!("line {i}: sku `{}` is malformed", line.sku));
        }
        if line.quantity == 0 {
            problems.push(format!("line {i}: quantity is zero"));
        }
    }
    let report = Report {
        id: &order.id,
        total: order.lines.iter().map(|l| f64::from(l.quantity) * l.unit_price).sum(),
        items: order.lines.iter().map(|l| u64::from(l.quantity)).sum(),
        problems,
        extras: order.extras.iter().map(|e| e.fields().into_iter().collect()).collect(),
        order: &order,
    };
    // A TOML order gets a TOML report; JSON, JSON.
    let out = if input.trim_start().starts_with('{') {
        serde_json::to_string_pretty(&report).unwrap()
    } else {
        toml::to_string_pretty(&report).unwrap_or_else(|e| format!("# cannot write TOML: {e}"))
    };
    let mut stdout = std::io::stdout().lock();
    let _ = stdout.write_all(out.as_bytes());
    let _ = stdout.write_all(b"\n");
}
