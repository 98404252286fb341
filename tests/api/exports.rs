//! Exports from the integration story: the OCDS package (validated against OCDS 1.1 with the
//! lots, bid and contract_buyer extensions merged in), DECP 2.0 per member part (validated
//! against the shipped schema), the bid comparison as XLSX (read back) and CSV, and the
//! CLI's yearly DECP file. Amounts are checked digit for digit in the raw JSON.

use std::io::{Cursor, Read};

use actix_web::http::Method;
use serde_json::{json, Value};
use tenderpool::auth::Role;
use tenderpool::ids::SupplierId;

use crate::both_backends;
use crate::common::TestApp;
use crate::tenders::{bid_path, close, fixture, put_bid, supplier, tender_body, Fixture};

const STANDARDS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/standards");

fn read_json(path: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// RFC 7386 JSON Merge Patch, as OCDS extensions are applied.
fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            let t = target.as_object_mut().unwrap();
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        _ => *target = patch.clone(),
    }
}

fn errors(validator: &jsonschema::Validator, doc: &Value) -> Vec<String> {
    validator
        .iter_errors(doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect()
}

/// Validates an OCDS release package: the package schema, and each release against the
/// release schema with the three extensions merged.
fn assert_valid_ocds(package: &Value) {
    let mut release = read_json(&format!("{STANDARDS}/ocds-1.1/release-schema.json"));
    for ext in ["lots", "bid", "contract_buyer"] {
        merge(
            &mut release,
            &read_json(&format!(
                "{STANDARDS}/ocds-1.1/ext-{ext}-release-schema.json"
            )),
        );
    }
    // The lots extension refers to `SubmissionTerms`, which the submissionTerms extension
    // defines; that extension is not shipped (nor used here): any object stands for it.
    if release["definitions"].get("SubmissionTerms").is_none() {
        release["definitions"]["SubmissionTerms"] = json!({"type": ["object", "null"]});
    }
    let releases = jsonschema::draft4::new(&release).expect("release schema");
    let mut pkg = read_json(&format!("{STANDARDS}/ocds-1.1/release-package-schema.json"));
    pkg["properties"]["releases"]["items"] = json!({});
    let pkg = jsonschema::draft4::new(&pkg).expect("package schema");
    assert_eq!(errors(&pkg, package), Vec::<String>::new());
    for r in package["releases"].as_array().unwrap() {
        assert_eq!(
            errors(&releases, r),
            Vec::<String>::new(),
            "release {}",
            r["id"]
        );
    }
    // The validator does bite: a release without its ocid, or with an unknown lot status.
    let mut broken = package["releases"][0].clone();
    broken.as_object_mut().unwrap().remove("ocid");
    assert!(!errors(&releases, &broken).is_empty());
    let mut broken = package["releases"][0].clone();
    broken["tender"]["lots"][0]["status"] = json!("awarded");
    assert!(!errors(&releases, &broken).is_empty());
}

fn assert_valid_decp(doc: &Value) {
    let schema = read_json(&format!("{STANDARDS}/decp-2.0/schema_decp_v2.0.3.json"));
    let v = jsonschema::draft7::new(&schema).expect("DECP schema");
    assert_eq!(errors(&v, doc), Vec::<String>::new());
    // The validator does bite: a montant under 1 €, an id over 16 characters.
    if doc["marches"]["marche"][0].is_object() {
        let mut broken = doc.clone();
        broken["marches"]["marche"][0]["montant"] = json!(0.5);
        assert!(!errors(&v, &broken).is_empty());
        let mut broken = doc.clone();
        broken["marches"]["marche"][0]["id"] = json!("2027-GRP-007-LOT-1");
        assert!(!errors(&v, &broken).is_empty());
    }
}

fn set_clock(app: &TestApp, rfc3339: &str) {
    app.clock.set(
        chrono::DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .into(),
    );
}

struct Story {
    f: Fixture,
    tender: String,
    lot: String,
    contract: String,
}

/// A one-lot tender (needs 0–2) with three bids — one from a supplier whose name starts with
/// `=` — taken to its contract; checks the sealed stage on the way.
async fn contracted(app: &TestApp) -> Story {
    let f = fixture(app).await;
    let weird = supplier(
        app,
        "=Peintures SA",
        "80123456700007",
        &["devis@peintures.fr"],
        &["45"],
    )
    .await;
    close(app, &f).await;
    let lots = json!([{"title": "Peinture et menuiserie", "need_ids": [f.needs[0], f.needs[1], f.needs[2]]}]);
    let t = app
        .post(
            "/api/v1/tenders",
            &f.s.lead,
            tender_body(&f, "2027-GRP-007", lots),
        )
        .await
        .ok(201);
    let tender = t["id"].as_str().unwrap().to_owned();
    app.post(
        &format!("/api/v1/tenders/{tender}/publish"),
        &f.s.lead,
        json!({}),
    )
    .await
    .ok(200);
    let lot = t["lots"][0]["id"].as_str().unwrap().to_owned();
    let items: Vec<String> = t["lots"][0]["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap().to_owned())
        .collect();
    let path = bid_path(&t, &lot);
    let body = |doors: &str, paint: &str| {
        json!({"lines": [
            {"item_id": items[0], "unit_price": doors}, {"item_id": items[1], "unit_price": paint}
        ]})
    };
    let token = |id: &str| {
        app.token(
            Role::Supplier,
            None,
            Some(id.parse::<SupplierId>().unwrap()),
        )
    };
    let b0 = put_bid(app, &token(&f.suppliers[0]), &path, body("350", "18"))
        .await
        .ok(201)["bid_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let b1 = put_bid(app, &token(&f.suppliers[1]), &path, body("300", "19.99"))
        .await
        .ok(201)["bid_id"]
        .as_str()
        .unwrap()
        .to_owned();
    let bw = put_bid(app, &token(&weird), &path, body("320", "19"))
        .await
        .ok(201)["bid_id"]
        .as_str()
        .unwrap()
        .to_owned();

    // Sealed: the lead's OCDS has no bids and names no bidder; no comparison; nothing public.
    let ocds = format!("/api/v1/tenders/{tender}/ocds");
    let early = app.get(&ocds, &f.s.lead).await;
    assert_eq!(early.status, 200);
    assert!(
        !early.body.contains("\"bids\"")
            && !early.body.contains("tenderer")
            && !early.body.contains("Portes"),
        "{}",
        early.body
    );
    assert_valid_ocds(&early.json());
    app.call(Method::GET, &ocds, None, None)
        .await
        .problem(404, "not_found");
    app.get(&ocds, &f.s.nmh).await.problem(404, "not_found");
    app.get(
        &format!("/api/v1/tenders/{tender}/lots/{lot}/comparison"),
        &f.s.lead,
    )
    .await
    .problem(409, "bids_sealed");

    set_clock(app, "2027-02-01T12:00:00Z");
    for (bid, tech, env) in [(&b0, "20", "5"), (&b1, "28", "9"), (&bw, "20", "5")] {
        app.call(Method::PUT, &format!("/api/v1/bids/{bid}/evaluation"), Some(&f.s.lead),
            Some(json!({"scores": {"Valeur technique": tech, "Performance environnementale": env}, "admissibility": "admissible"}).to_string().into_bytes()))
            .await.ok(200);
    }
    let lot_path = format!("/api/v1/tenders/{tender}/lots/{lot}");
    app.post(
        &format!("{lot_path}/award"),
        &f.s.lead,
        json!({"bid_id": b1, "notification": "electronic"}),
    )
    .await
    .ok(201);
    app.memory_worker().drain().await.unwrap();
    set_clock(app, "2027-02-12T10:00:00Z");
    let c = app
        .post(&format!("{lot_path}/contract"), &f.s.lead, json!({}))
        .await
        .ok(201);
    assert_eq!(
        app.get(&format!("/api/v1/tenders/{tender}"), &f.s.lead)
            .await
            .ok(200)["status"],
        "contracted"
    );
    Story {
        f,
        tender,
        lot,
        contract: c["id"].as_str().unwrap().to_owned(),
    }
}

both_backends! {
    async fn ocds_and_decp_are_valid_and_exact_and_public_only_once_contracted(app) {
        let s = contracted(&app).await;
        let ocds = format!("/api/v1/tenders/{}/ocds", s.tender);
        let lead = app.get(&ocds, &s.f.s.lead).await;
        assert_eq!(lead.status, 200);
        let doc = lead.json();
        assert_valid_ocds(&doc);
        let tags: Vec<&str> = doc["releases"].as_array().unwrap().iter().map(|r| r["tag"][0].as_str().unwrap()).collect();
        assert_eq!(tags, ["tender", "award", "contract"]);
        assert!(doc["releases"][0]["ocid"].as_str().unwrap().starts_with("ocds-tndrpl-"));
        // Digit for digit: the parts 3600.00 / 1999.00 / 1009.50, the bids' exact totals.
        for needle in [r#""amount":3600.00"#, r#""amount":1999.00"#, r#""amount":1009.50"#, r#""amount":6608.495"#, r#""amount":6909"#, r#""amount":6699.5"#] {
            assert!(lead.body.contains(needle), "{needle} missing");
        }
        let contract = &doc["releases"][2];
        let buyers: Vec<&str> = contract["contracts"].as_array().unwrap().iter().map(|c| c["buyer"]["name"].as_str().unwrap()).collect();
        assert_eq!(buyers, ["Archipel Habitat", "Brest Métropole Habitat", "Nantes Métropole Habitat"]);
        assert_eq!(contract["buyer"]["id"], "FR-SIRET-27440001600094");
        assert_eq!(contract["bids"]["details"].as_array().unwrap().len(), 3);
        assert_eq!(contract["awards"][0]["suppliers"][0]["name"], "Portes Bretonnes");
        let party = contract["parties"].as_array().unwrap().iter().find(|p| p["name"] == "Nantes Métropole Habitat").unwrap();
        assert_eq!(party["roles"], json!(["buyer", "procuringEntity"]));
        // Contracted: anyone may read it, without a token; a token is always checked.
        let public = app.call(Method::GET, &ocds, None, None).await;
        assert_eq!(public.status, 200);
        assert_eq!(public.json()["releases"].as_array().unwrap().len(), 3);
        // Another role sees the same open data with its token (nothing more).
        let officer = app.get(&ocds, &s.f.s.nmh).await;
        assert_eq!(officer.status, 200);
        assert_eq!(officer.json()["releases"][2]["contracts"].as_array().unwrap().len(), 3);
        app.call_with(Method::GET, &ocds, None, None, &[("Authorization", "Bearer nope")]).await.problem(401, "unauthenticated");

        // DECP: one marche per member part, the member as buyer.
        let decp = format!("/api/v1/contracts/{}/decp", s.contract);
        let all = app.get(&decp, &s.f.s.lead).await;
        assert_eq!(all.status, 200);
        let d = all.json();
        assert_valid_decp(&d);
        let marches = d["marches"]["marche"].as_array().unwrap();
        assert_eq!(marches.len(), 3);
        let bmh = marches.iter().find(|m| m["acheteur"]["id"] == "27290003200017").unwrap();
        assert_eq!(bmh["id"], "2027-GRP-007-1");
        assert_eq!(bmh["titulaires"][0]["titulaire"], json!({"typeIdentifiant": "SIRET", "id": "73282932000074"}));
        assert_eq!((bmh["offresRecues"].as_i64(), bmh["dureeMois"].as_i64()), (Some(3), Some(12)));
        assert_eq!(bmh["procedure"], "Appel d'offres ouvert");
        assert_eq!(bmh["dateNotification"], "2027-02-12");
        for needle in [r#""montant":3600.00"#, r#""montant":1999.00"#, r#""montant":1009.50"#] {
            assert!(all.body.contains(needle), "{needle} missing");
        }
        let own = app.get(&decp, &s.f.s.bmh).await;
        let own_doc = own.json();
        assert_valid_decp(&own_doc);
        assert_eq!(own_doc["marches"]["marche"].as_array().unwrap().len(), 1);
        assert!(own.body.contains(r#""montant":1009.50"#));

        // The CLI's yearly file.
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("decp-2027.json");
        let run = std::process::Command::new(env!("CARGO_BIN_EXE_tenderpool"))
            .args(["export", "decp", "--since", "2027-01-01", "--output"])
            .arg(&out)
            .current_dir(dir.path())
            .env("DATABASE_URL", &app.db_url)
            .env_remove("TENDERPOOL_ENV")
            .output()
            .unwrap();
        assert!(run.status.success(), "{}", String::from_utf8_lossy(&run.stderr));
        let text = std::fs::read_to_string(&out).unwrap();
        let file: Value = serde_json::from_str(&text).unwrap();
        assert_valid_decp(&file);
        assert_eq!(file["marches"]["marche"].as_array().unwrap().len(), 3);
        assert!(text.contains(r#""montant":1009.50"#));
        let before = std::process::Command::new(env!("CARGO_BIN_EXE_tenderpool"))
            .args(["export", "decp", "--since", "2026-01-01", "--until", "2027-02-12"])
            .current_dir(dir.path())
            .env("DATABASE_URL", &app.db_url)
            .output()
            .unwrap();
        assert!(before.status.success(), "{}", String::from_utf8_lossy(&before.stderr));
        assert_eq!(String::from_utf8_lossy(&before.stdout).trim(), r#"{"marches":{"marche":[]}}"#, "made on 12 February: not before it");
        let later = std::process::Command::new(env!("CARGO_BIN_EXE_tenderpool"))
            .args(["export", "decp", "--since", "2028-01-01"])
            .current_dir(dir.path())
            .env("DATABASE_URL", &app.db_url)
            .output()
            .unwrap();
        assert!(later.status.success());
        assert_eq!(String::from_utf8_lossy(&later.stdout).trim(), r#"{"marches":{"marche":[]}}"#);
    }

    async fn the_bid_comparison_reads_back_from_xlsx_and_csv(app) {
        let s = contracted(&app).await;
        let path = format!("/api/v1/tenders/{}/lots/{}/comparison", s.tender, s.lot);
        let xlsx = app.call_with(Method::GET, &path, Some(&s.f.s.lead), None, &[("Accept", tenderpool::exports::routes::XLSX)]).await;
        assert_eq!(xlsx.status, 200);
        assert_eq!(xlsx.content_type, tenderpool::exports::routes::XLSX);
        use calamine::{Data, Reader};
        let mut book: calamine::Xlsx<_> = calamine::Xlsx::new(Cursor::new(xlsx.bytes.clone())).unwrap();
        let sheet = book.worksheet_range("Analyse des offres").unwrap();
        let cell = |r: u32, c: u32| sheet.get_value((r, c)).cloned().unwrap_or(Data::Empty);
        // Rank order: Portes Bretonnes (97 points), then the neutralised =Peintures SA, then BTP Ouest.
        assert_eq!(cell(2, 4), Data::String("Portes Bretonnes — prix unitaire HT".into()));
        assert_eq!(cell(2, 6), Data::String("'=Peintures SA — prix unitaire HT".into()), "formula neutralised");
        assert_eq!(cell(2, 8), Data::String("BTP Ouest — prix unitaire HT".into()));
        // Items as numbers: doors 12 × 300; painting 150.5 × 19.99 = 3008.495.
        assert_eq!(cell(3, 3), Data::Float(12.0));
        assert_eq!(cell(3, 4), Data::Float(300.0));
        assert_eq!(cell(3, 5), Data::Float(3600.0));
        assert_eq!(cell(4, 3), Data::Float(150.5));
        assert_eq!(cell(4, 5), Data::Float(3008.495));
        assert_eq!(cell(5, 0), Data::String("Total HT".into()));
        assert_eq!(cell(5, 5), Data::Float(6608.495));
        assert_eq!(cell(5, 7), Data::Float(6699.5));
        let last = sheet.height() as u32 - 1;
        assert_eq!(cell(last, 0), Data::String("Rang".into()));
        assert_eq!((cell(last, 5), cell(last, 7), cell(last, 9)), (Data::Float(1.0), Data::Float(2.0), Data::Float(3.0)));
        // Formats, highlight and frozen header, in the workbook's XML.
        let mut zip = zip::ZipArchive::new(Cursor::new(xlsx.bytes.clone())).unwrap();
        let mut styles = String::new();
        zip.by_name("xl/styles.xml").unwrap().read_to_string(&mut styles).unwrap();
        assert!(styles.contains("€"), "a euro number format: {styles}");
        assert!(styles.contains("FFC6EFCE"), "the lowest-price fill");
        let mut sheet_xml = String::new();
        zip.by_name("xl/worksheets/sheet1.xml").unwrap().read_to_string(&mut sheet_xml).unwrap();
        assert!(sheet_xml.contains(r#"state="frozen""#) && sheet_xml.contains(r#"topLeftCell="E4""#), "{sheet_xml}");

        let csv = app.call_with(Method::GET, &format!("{path}?dialect=excel-fr"), Some(&s.f.s.lead), None, &[("Accept", "text/csv")]).await;
        assert_eq!(csv.status, 200);
        assert!(csv.body.starts_with('\u{feff}'));
        assert!(csv.body.contains("'=Peintures SA — prix unitaire HT"));
        assert!(csv.body.contains("Total HT;;;;;6608,50;;6699,50;;6909,00"), "{}", csv.body);
        let plain = app.call_with(Method::GET, &path, Some(&s.f.s.lead), None, &[("Accept", "text/csv")]).await;
        assert!(plain.body.starts_with("Analyse des offres"), "{}", plain.body);
        app.get(&path, &s.f.s.nmh).await.problem(403, "forbidden");
    }
}
