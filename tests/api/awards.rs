//! The whole story after the deadline: evaluation → ranking → award (letters over SMTP,
//! checked for the R2181-3 content) → standstill → cascade → contract → allocation → shared
//! costs → savings; every figure recomputed here independently.

use actix_web::http::Method;
use rust_decimal::Decimal;
use serde_json::{json, Value};
use tenderpool::auth::Role;
use tenderpool::ids::SupplierId;

use crate::both_backends;
use crate::common::smtp::SmtpServer;
use crate::common::TestApp;
use crate::tenders::{bid_path, fixture, published, put_bid};

fn dec(s: &str) -> Decimal {
    s.parse().unwrap()
}

/// Half-up to 2 decimals, written with 2 (what the API shows).
fn shown(v: Decimal) -> String {
    let mut r = v.round_dp_with_strategy(2, rust_decimal::RoundingStrategy::MidpointAwayFromZero);
    r.rescale(2);
    r.to_string()
}

async fn put(app: &TestApp, path: &str, token: &str, body: Value) -> crate::common::Resp {
    app.call(
        Method::PUT,
        path,
        Some(token),
        Some(body.to_string().into_bytes()),
    )
    .await
}

fn set_clock(app: &TestApp, rfc3339: &str) {
    app.clock.set(
        chrono::DateTime::parse_from_rfc3339(rfc3339)
            .unwrap()
            .into(),
    );
}

fn entry<'a>(ranking: &'a Value, bid: &str) -> &'a Value {
    ranking["bids"]
        .as_array()
        .unwrap()
        .iter()
        .find(|b| b["bid_id"] == bid)
        .unwrap()
}

both_backends! {
    async fn evaluation_award_standstill_cascade_contract_allocation_costs_and_savings(app) {
        let f = fixture(&app).await;
        let (t, lot, items) = published(&app, &f).await;
        let tender = t["id"].as_str().unwrap().to_owned();
        let lot_path = format!("/api/v1/tenders/{tender}/lots/{lot}");
        let s0 = app.token(Role::Supplier, None, Some(f.suppliers[0].parse::<SupplierId>().unwrap()));
        let s1 = app.token(Role::Supplier, None, Some(f.suppliers[1].parse::<SupplierId>().unwrap()));
        let path = bid_path(&t, &lot);
        // items[0]: doors (ARCH 12 u, VAT 20); items[1]: painting (NMH 100 + BMH 50.5 m², VAT 10).
        let body = |doors: &str, paint: &str| json!({"lines": [
            {"item_id": items[0], "unit_price": doors}, {"item_id": items[1], "unit_price": paint}
        ]});
        let b0 = put_bid(&app, &s0, &path, body("350", "18")).await.ok(201)["bid_id"].as_str().unwrap().to_owned();
        let b1 = put_bid(&app, &s1, &path, body("300", "19.99")).await.ok(201)["bid_id"].as_str().unwrap().to_owned();
        let scores = |tech: &str, env: &str| json!({"scores": {"Valeur technique": tech, "Performance environnementale": env}, "admissibility": "admissible"});

        // Sealed: before the deadline a bid id is not even confirmed to exist.
        put(&app, &format!("/api/v1/bids/{b0}/evaluation"), &f.s.lead, scores("28", "9")).await.problem(404, "not_found");
        app.get(&format!("{lot_path}/ranking"), &f.s.lead).await.problem(409, "bids_sealed");
        app.post(&format!("{lot_path}/award"), &f.s.lead, json!({"bid_id": b0, "notification": "electronic"})).await.problem(409, "bids_sealed");

        set_clock(&app, "2027-02-01T12:00:00Z");
        let eval0 = format!("/api/v1/bids/{b0}/evaluation");
        let eval1 = format!("/api/v1/bids/{b1}/evaluation");
        // Refusals change nothing.
        put(&app, &eval0, &f.s.lead, json!({"scores": {"Valeur technique": "28"}, "admissibility": "admissible"})).await.invalid("/scores/Performance environnementale");
        put(&app, &eval0, &f.s.lead, scores("30.01", "9")).await.invalid("/scores/Valeur technique");
        put(&app, &eval0, &f.s.lead, json!({"scores": {"Prix": "60", "Valeur technique": "1", "Performance environnementale": "1"}, "admissibility": "admissible"})).await.invalid("/scores/Prix");
        put(&app, &eval0, &f.s.lead, json!({"admissibility": "irregular"})).await.invalid("/reason");
        put(&app, &eval0, &f.s.nmh, scores("28", "9")).await.problem(403, "forbidden");
        assert_eq!(app.count("bid_evaluations"), 0);

        put(&app, &eval0, &f.s.lead, scores("28", "9")).await.ok(200);
        // Every competing bid must be scored before an award.
        app.post(&format!("{lot_path}/award"), &f.s.lead, json!({"bid_id": b0, "notification": "electronic"})).await.problem(409, "evaluation_incomplete");
        let ranking = put(&app, &eval1, &f.s.lead, scores("20", "5")).await.ok(200);

        // Totals: s0 = 12 × 350 + 150.5 × 18 = 6909; s1 = 12 × 300 + 150.5 × 19.99 = 6608.495.
        let (p0, p1) = (dec("6909"), dec("6608.495"));
        let price0 = dec("60") * p1 / p0; // proportional: max × P_min / P
        let (e0, e1) = (entry(&ranking, &b0), entry(&ranking, &b1));
        assert_eq!(e0["total"], "6909");
        assert_eq!(e1["total"], "6608.495");
        assert_eq!(e1["price_score"], "60.00");
        assert_eq!(e0["price_score"], shown(price0));
        assert_eq!(e0["total_score"], shown(price0 + dec("37")));
        assert_eq!(e1["total_score"], "85.00");
        assert_eq!((e0["rank"].as_i64(), e1["rank"].as_i64()), (Some(1), Some(2)));
        assert_eq!(e0["scores"]["Prix"], shown(price0));
        assert_eq!(e0["scores"]["Valeur technique"], "28.00");
        assert!(!e0["abnormally_low"].as_bool().unwrap() && !e1["abnormally_low"].as_bool().unwrap());
        assert_eq!(app.get(&format!("{lot_path}/ranking"), &f.s.lead).await.ok(200), ranking);
        assert_eq!(app.get(&format!("/api/v1/tenders/{tender}"), &f.s.lead).await.ok(200)["status"], "evaluated");

        // Award: another than the first needs a reason.
        app.post(&format!("{lot_path}/award"), &f.s.lead, json!({"bid_id": b1, "notification": "electronic"})).await.invalid("/reason");
        let award = app.post(&format!("{lot_path}/award"), &f.s.lead, json!({"bid_id": b0, "notification": "electronic"})).await.ok(201);
        assert_eq!(award["rank"], 1);
        assert_eq!(award["certificates_due"], "2027-02-11");
        assert_eq!(award["standstill"], json!({"days": 11, "letters": 1, "letters_sent": 0, "signable_from": null}));
        app.post(&format!("{lot_path}/award"), &f.s.lead, json!({"bid_id": b0, "notification": "electronic"})).await.problem(409, "invalid_state");
        put(&app, &eval0, &f.s.lead, scores("1", "1")).await.problem(409, "invalid_state");
        // The rejection letter is not sent yet: no contract.
        app.post(&format!("{lot_path}/contract"), &f.s.lead, json!({})).await.problem(409, "notices_pending");

        let smtp = SmtpServer::start();
        app.worker(app.smtp_mailer(smtp.port)).drain().await.unwrap();
        let mails = smtp.messages();
        let awarded: Vec<_> = mails.iter().filter(|m| m.subject.contains("votre offre est retenue")).collect();
        assert_eq!(awarded.len(), 2, "one per address of BTP Ouest");
        assert!(awarded[0].text.contains("au plus tard le 11 février 2027") && awarded[0].text.contains("attestations"), "{}", awarded[0].text);
        let rejected: Vec<_> = mails.iter().filter(|m| m.subject.contains("n'est pas retenue")).collect();
        assert_eq!(rejected.len(), 1);
        let r = &rejected[0];
        assert_eq!(r.rcpt, ["offres@portes.bzh"]);
        let fr = |v: Decimal| shown(v).replace('.', ",");
        for needle in [
            "Motifs du rejet : offre classée 2e sur 2".to_owned(),
            format!("Attributaire : BTP Ouest, note {} / 100", fr(price0 + dec("37"))),
            "Votre note : 85,00 / 100.".to_owned(),
            format!("- Prix (sur 60,00) : attributaire {}, votre offre 60,00", fr(price0)),
            "- Valeur technique (sur 30,00) : attributaire 28,00, votre offre 20,00".to_owned(),
            "- Performance environnementale (sur 10,00) : attributaire 9,00, votre offre 5,00".to_owned(),
            format!("- Total (sur 100) : attributaire {}, votre offre 85,00", fr(price0 + dec("37"))),
            "le marché ne sera pas signé avant le 12 février 2027".to_owned(),
            "Acheteur : Nantes Métropole Habitat, coordonnateur, pour le compte du groupement « Groupement Ouest »".to_owned(),
            "Pour toute question ou demande de précisions : ne-pas-repondre@tenderpool.localhost".to_owned(),
            "référé précontractuel".to_owned(),
            "Tribunal administratif de Nantes".to_owned(),
        ] {
            assert!(r.text.contains(&needle), "missing {needle:?} in {}", r.text);
        }
        // Sent on 1 February (Paris): signable from 12 February.
        let award = app.get(&format!("{lot_path}/award"), &f.s.lead).await.ok(200);
        assert_eq!(award["standstill"], json!({"days": 11, "letters": 1, "letters_sent": 1, "signable_from": "2027-02-12"}));
        let running = app.post(&format!("{lot_path}/contract"), &f.s.lead, json!({})).await.problem(409, "standstill_running");
        assert!(running["detail"].as_str().unwrap().contains("2027-02-12"), "{running}");

        // Cascade (R2144-7): the winner produced no certificates; the next bid is awarded and
        // the standstill restarts from its own letters.
        set_clock(&app, "2027-02-12T09:00:00Z");
        app.post(&format!("{lot_path}/award/withdraw"), &f.s.lead, json!({"reason": ""})).await.invalid("/reason");
        let w = app.post(&format!("{lot_path}/award/withdraw"), &f.s.lead, json!({"reason": "attestations non produites"})).await.ok(200);
        assert_eq!(w["withdrawn"]["status"], "withdrawn");
        assert_eq!(w["lot_status"], "awarded");
        assert_eq!(w["next"]["bid_id"], b1.as_str());
        assert_eq!(w["next"]["rank"], 2);
        assert_eq!(w["next"]["standstill"]["letters_sent"], 0);
        app.post(&format!("{lot_path}/contract"), &f.s.lead, json!({})).await.problem(409, "notices_pending");
        app.worker(app.smtp_mailer(smtp.port)).drain().await.unwrap();
        let second: Vec<_> = smtp.messages().into_iter().filter(|m| m.rcpt.contains(&"devis@btp-ouest.fr".to_owned()) && m.subject.contains("n'est pas retenue")).collect();
        assert_eq!(second.len(), 1);
        assert!(second[0].text.contains("attribution retirée") && second[0].text.contains("attestations non produites"), "{}", second[0].text);
        assert!(second[0].text.contains("pas signé avant le 23 février 2027"), "{}", second[0].text);
        // 22 February 23:59 in Paris is still in the standstill; 23 February 00:00 is not.
        set_clock(&app, "2027-02-22T22:59:00Z");
        app.post(&format!("{lot_path}/contract"), &f.s.lead, json!({})).await.problem(409, "standstill_running");
        set_clock(&app, "2027-02-22T23:00:00Z");
        let contract = app.post(&format!("{lot_path}/contract"), &f.s.lead, json!({})).await.ok(201);

        // Allocation, by hand: doors T = 12 × 300 = 3600.00 (ARCH alone); painting
        // T = round(150.5 × 19.99 = 3008.495) = 3008.50, NMH 3008.50 × 100 / 150.5 =
        // 1999.0033… → 1999.00, BMH × 50.5 / 150.5 = 1009.4966… → 1009.49; one cent left goes
        // to the larger remainder (BMH): 1009.50.
        assert_eq!(contract["total_ht"], "6608.50");
        assert_eq!(contract["supplier_name"], "Portes Bretonnes");
        let part = |c: &Value, code: &str| c["parts"].as_array().unwrap().iter().find(|p| p["member_code"] == code).cloned().unwrap();
        let (arch, bmh, nmh) = (part(&contract, "ARCH"), part(&contract, "BMH"), part(&contract, "NMH"));
        assert_eq!((arch["total_ht"].as_str(), arch["total_vat"].as_str(), arch["total_ttc"].as_str()), (Some("3600.00"), Some("720.00"), Some("4320.00")));
        assert_eq!((nmh["total_ht"].as_str(), nmh["total_vat"].as_str(), nmh["total_ttc"].as_str()), (Some("1999.00"), Some("199.90"), Some("2198.90")));
        assert_eq!((bmh["total_ht"].as_str(), bmh["total_vat"].as_str(), bmh["total_ttc"].as_str()), (Some("1009.50"), Some("100.95"), Some("1110.45")));
        let proof = &bmh["lines"][0]["proof"];
        assert_eq!((proof["truncated"].as_str(), proof["extra_cents"].as_i64(), proof["remainder_rank"].as_i64()), (Some("1009.49"), Some(1), Some(1)));
        assert_eq!(nmh["lines"][0]["proof"]["extra_cents"], 0);
        // The proof recomputes: exact share = 300850 cents × 50.5 / 150.5.
        let exact = dec("300850") * dec("50.5") / dec("150.5");
        assert_eq!(proof["truncated"], shown(exact.trunc() / dec("100")));
        assert_eq!(app.get(&format!("/api/v1/tenders/{tender}"), &f.s.lead).await.ok(200)["lots"][0]["status"], "contracted");
        assert_eq!(app.get(&format!("/api/v1/needs/{}", f.needs[0]), &f.s.nmh).await.ok(200)["status"], "contracted");

        // Who reads what: each officer its own part; suppliers nothing.
        let cid = contract["id"].as_str().unwrap();
        let mine = app.get(&format!("/api/v1/contracts/{cid}"), &f.s.bmh).await.ok(200);
        assert_eq!(mine["parts"].as_array().unwrap().len(), 1);
        assert_eq!(mine["parts"][0]["member_code"], "BMH");
        assert_eq!(mine["total_ht"], "1009.50", "an officer sees its own total, not the lot's");
        assert_eq!(mine["items"], json!([]), "nor the lot's quantities");
        assert_eq!(app.get(&format!("/api/v1/contracts/{cid}"), &f.s.lead).await.ok(200)["parts"].as_array().unwrap().len(), 3);
        app.get(&format!("/api/v1/contracts/{cid}"), &s1).await.problem(403, "forbidden");
        app.get(&format!("/api/v1/contracts/{}", uuid::Uuid::now_v7()), &f.s.lead).await.problem(404, "not_found");
        let alloc = app.get(&format!("/api/v1/contracts/{cid}/allocation"), &f.s.arch).await.ok(200);
        assert_eq!(alloc["parts"].as_array().unwrap().len(), 1);
        let csv = app.call_with(Method::GET, &format!("/api/v1/contracts/{cid}/allocation?dialect=excel-fr"), Some(&f.s.lead), None, &[("Accept", "text/csv")]).await;
        assert_eq!(csv.status, 200);
        assert!(csv.body.starts_with('\u{feff}'), "BOM");
        assert!(csv.body.contains("BMH;line;") && csv.body.contains(";1009,49;") && csv.body.contains(";1009,50;"), "{}", csv.body);
        assert!(csv.body.contains("BMH;total;;;;;;;;;;;;1009,50;100,95;1110,45"), "{}", csv.body);
        let plain = app.call_with(Method::GET, &format!("/api/v1/contracts/{cid}/allocation"), Some(&f.s.nmh), None, &[("Accept", "text/csv")]).await;
        assert!(plain.body.starts_with("member_code,kind,"), "{}", plain.body);
        assert!(!plain.body.contains("BMH"), "an officer's CSV has its own part only");
        // Each member's contact is told its part.
        app.worker(app.smtp_mailer(smtp.port)).drain().await.unwrap();
        let ready: Vec<_> = smtp.messages().into_iter().filter(|m| m.subject.contains("marché prêt à signer")).collect();
        assert_eq!(ready.len(), 3);
        assert!(ready.iter().any(|m| m.rcpt == ["achats@bmh.fr"] && m.text.contains("1\u{a0}009,50")));

        // Shared costs: 100.00 equally → 33.34 / 33.33 / 33.33 (the lowest code gets the
        // cent); 1000.00 by dwellings (25 000 / 13 000 / 14 000) → NMH 480.7692… gets the cent.
        let costs = format!("/api/v1/groups/{}/shared-costs", f.s.group);
        let eq = app.post(&costs, &f.s.lead, json!({"label": "Publication BOAMP", "amount": "100.00", "key": "equal"})).await.ok(201);
        let amounts = |c: &Value| c["shares"].as_array().unwrap().iter().map(|s| (s["member_code"].as_str().unwrap().to_owned(), s["amount"].as_str().unwrap().to_owned())).collect::<Vec<_>>();
        assert_eq!(amounts(&eq), [("ARCH".into(), "33.34".into()), ("BMH".into(), "33.33".into()), ("NMH".into(), "33.33".into())]);
        let dw = app.post(&costs, &f.s.lead, json!({"label": "AMO", "amount": "1000.00"})).await.ok(201);
        assert_eq!(dw["key"], "dwellings");
        assert_eq!(amounts(&dw), [("ARCH".into(), "269.23".into()), ("BMH".into(), "250.00".into()), ("NMH".into(), "480.77".into())]);
        // By awarded value (3600 / 1009.50 / 1999.00 of 6608.50).
        let av = app.post(&costs, &f.s.lead, json!({"label": "Frais", "amount": "10.00", "key": "awarded_value"})).await.ok(201);
        let by_value: Decimal = amounts(&av).iter().map(|(_, a)| dec(a)).sum();
        assert_eq!(by_value, dec("10.00"));
        assert_eq!(amounts(&av)[0], ("ARCH".into(), "5.45".into()), "10 × 3600 / 6608.5 = 5.4475… → 5.44 + the largest remainder");
        app.post(&costs, &f.s.lead, json!({"label": "x", "amount": "-1"})).await.invalid("/amount");
        app.post(&costs, &f.s.nmh, json!({"label": "x", "amount": "1"})).await.problem(403, "forbidden");
        assert_eq!(app.get(&costs, &f.s.lead).await.ok(200)["items"].as_array().unwrap().len(), 3);

        // Savings: estimates at 18 € per unit: NMH 100 × 18 = 1800, BMH 50.5 × 18 = 909,
        // ARCH 12 × 18 = 216; contracted 1999.00 / 1009.50 / 3600.00; 12 months.
        let savings = app.get(&format!("/api/v1/groups/{}/savings", f.s.group), &f.s.lead).await.ok(200);
        let nmh_line = savings["members"].as_array().unwrap().iter().find(|m| m["member_code"] == "NMH").unwrap();
        assert_eq!((nmh_line["estimated_yearly"].as_str(), nmh_line["contracted_yearly"].as_str(), nmh_line["savings_yearly"].as_str()), (Some("1800.00"), Some("1999.00"), Some("-199.00")));
        assert_eq!(nmh_line["savings_percent"], "-11.06");
        assert_eq!(savings["group"]["estimated_yearly"], "2925.00");
        assert_eq!(savings["group"]["contracted_over_duration"], "6608.50");
        // Coordinator fee: 1.5 % of 6608.50 = 99.1275 → 99.13, by dwellings (25/13/14 of 52
        // thousand): NMH 47.658… → 47.65, BMH 24.7825 → 24.78, ARCH 26.688… → 26.68; the two
        // cents left go to the largest remainders, ARCH (.88) then NMH (.86).
        let fee = &savings["coordinator_fee"];
        assert_eq!((fee["percent"].as_str(), fee["base"].as_str(), fee["amount"].as_str()), (Some("1.5"), Some("6608.50"), Some("99.13")));
        assert_eq!(amounts(fee), [("ARCH".into(), "26.69".into()), ("BMH".into(), "24.78".into()), ("NMH".into(), "47.66".into())]);
        let own = app.get(&format!("/api/v1/groups/{}/savings", f.s.group), &f.s.bmh).await.ok(200);
        assert_eq!(own["members"].as_array().unwrap().len(), 1);
        assert_eq!(own["members"][0]["contracted_yearly"], "1009.50");
        assert!(own["group"].is_null());
        assert!(own["coordinator_fee"].is_null(), "the fee's split is the lead's");
    }

    async fn an_abnormally_low_bid_needs_an_accepted_justification_and_a_cascade_can_end_unsuccessful(app) {
        let f = fixture(&app).await;
        let (t, _, _) = published(&app, &f).await;
        let tender = t["id"].as_str().unwrap().to_owned();
        let lot = t["lots"][1]["id"].as_str().unwrap().to_owned();
        let fuel = t["lots"][1]["items"][0]["id"].as_str().unwrap().to_owned();
        let lot_path = format!("/api/v1/tenders/{tender}/lots/{lot}");
        let s0 = app.token(Role::Supplier, None, Some(f.suppliers[0].parse::<SupplierId>().unwrap()));
        let s1 = app.token(Role::Supplier, None, Some(f.suppliers[1].parse::<SupplierId>().unwrap()));
        let path = bid_path(&t, &lot);
        // 2000 l: s1 2000.00, s0 2857.20 → s1 is 30.0014 % below the next: flagged; s0 is not.
        let b1 = put_bid(&app, &s1, &path, json!({"lines": [{"item_id": fuel, "unit_price": "1"}]})).await.ok(201)["bid_id"].as_str().unwrap().to_owned();
        let b0 = put_bid(&app, &s0, &path, json!({"lines": [{"item_id": fuel, "unit_price": "1.4286"}]})).await.ok(201)["bid_id"].as_str().unwrap().to_owned();
        set_clock(&app, "2027-02-01T12:00:00Z");
        let scores = json!({"scores": {"Valeur technique": "20", "Performance environnementale": "5"}, "admissibility": "admissible"});
        put(&app, &format!("/api/v1/bids/{b0}/evaluation"), &f.s.lead, scores.clone()).await.ok(200);
        let ranking = put(&app, &format!("/api/v1/bids/{b1}/evaluation"), &f.s.lead, scores).await.ok(200);
        assert!(entry(&ranking, &b1)["abnormally_low"].as_bool().unwrap());
        assert!(!entry(&ranking, &b0)["abnormally_low"].as_bool().unwrap());
        let low = format!("/api/v1/bids/{b1}/abnormally-low");
        app.post(&format!("/api/v1/bids/{b0}/abnormally-low"), &f.s.lead, json!({"justification_requested_at": "2027-02-01T12:00:00Z", "outcome": "rejected"})).await.problem(409, "not_abnormally_low");
        app.post(&format!("{lot_path}/award"), &f.s.lead, json!({"bid_id": b1, "notification": "postal"})).await.problem(409, "abnormally_low_unjustified");
        // Awarded to the second, then withdrawn: the next bid is the flagged one, unjustified,
        // so the lot goes back to active for the lead to record the justification.
        assert_eq!(entry(&ranking, &b0)["rank"], 2);
        app.post(&format!("{lot_path}/award"), &f.s.lead, json!({"bid_id": b0, "notification": "postal", "reason": "doute sur le prix du premier"})).await.ok(201);
        let w = app.post(&format!("{lot_path}/award/withdraw"), &f.s.lead, json!({"reason": "retrait du titulaire"})).await.ok(200);
        assert!(w["next"].is_null());
        assert_eq!(w["lot_status"], "active");
        app.post(&low, &f.s.lead, json!({"justification_requested_at": "2027-01-01T12:00:00Z"})).await.invalid("/justification_requested_at");
        app.post(&low, &f.s.lead, json!({"justification_requested_at": "2027-02-01T11:30:00Z"})).await.ok(200);
        app.post(&format!("{lot_path}/award"), &f.s.lead, json!({"bid_id": b1, "notification": "postal"})).await.problem(409, "abnormally_low_unjustified");
        let r = app.post(&low, &f.s.lead, json!({"justification_requested_at": "2027-02-01T11:30:00Z", "outcome": "accepted"})).await.ok(200);
        assert_eq!(entry(&r, &b1)["justification"]["outcome"], "accepted");
        app.post(&low, &f.s.lead, json!({"justification_requested_at": "2027-02-01T11:30:00Z", "outcome": "rejected"})).await.problem(409, "invalid_state");
        let award = app.post(&format!("{lot_path}/award"), &f.s.lead, json!({"bid_id": b1, "notification": "postal"})).await.ok(201);
        assert_eq!(award["standstill"]["days"], 16, "postal notification");
        // s0 was awarded once already: nothing left, the lot is unsuccessful and so are its needs.
        let w = app.post(&format!("{lot_path}/award/withdraw"), &f.s.lead, json!({"reason": "attestations non produites"})).await.ok(200);
        assert!(w["next"].is_null());
        assert_eq!(w["lot_status"], "unsuccessful");
        app.post(&format!("{lot_path}/award/withdraw"), &f.s.lead, json!({"reason": "x"})).await.problem(404, "not_found");
        app.post(&format!("{lot_path}/contract"), &f.s.lead, json!({})).await.problem(409, "invalid_state");
        assert_eq!(app.get(&format!("/api/v1/needs/{}", f.needs[3]), &f.s.nmh).await.ok(200)["status"], "unsuccessful");
        let journal = app.get("/api/v1/audit?limit=200", &f.s.lead).await.ok(200).to_string();
        for action in ["bid.evaluated", "bid.justification", "lot.awarded", "award.withdrawn", "lot.unsuccessful"] {
            assert!(journal.contains(action), "{action} missing from the journal");
        }
    }
}
