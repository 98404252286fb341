//! The e-mail outbox against a real SMTP server on loopback: transactional enqueue, delivery,
//! retries with backoff, leases, concurrent workers, permanent refusals, reminders, shutdown.

use std::collections::BTreeSet;

use serde_json::{json, Value};
use tenderpool::auth::Role;
use tenderpool::error::ApiError;
use tenderpool::notifications::domain::MailKind;
use tenderpool::notifications::store::{enqueue, NewMail};
use tenderpool::notifications::transport::Mailer;

use crate::both_backends;
use crate::common::scenario::Scenario;
use crate::common::smtp::{free_port, SmtpServer};
use crate::common::TestApp;

/// Opens the standard campaign in a fresh group; returns (lead token, campaign id).
async fn open_campaign(app: &TestApp) -> (String, String) {
    let s = Scenario::new(app).await;
    (s.lead, s.campaign)
}

async fn outbox(app: &TestApp) -> Vec<Value> {
    app.outbox().await
}

fn mail(to: &str, n: usize) -> NewMail {
    NewMail {
        kind: MailKind::CampaignOpened,
        to: to.to_owned(),
        subject: format!("Essai n° {n}"),
        text: format!("Message d'essai numéro {n}."),
        html: format!("<p>Message d'essai numéro {n}.</p>"),
        dedup_key: None,
    }
}

fn enqueue_many(app: &TestApp, mails: Vec<NewMail>) {
    let mut conn = app.state.db.conn().unwrap();
    let now = app.clock_now();
    tenderpool::db::write_tx(&mut conn, |c| {
        for m in &mails {
            enqueue(c, m, "tenderpool.test", now)?;
        }
        Ok::<_, ApiError>(())
    })
    .unwrap();
}

both_backends! {
    async fn opening_a_campaign_mails_every_member_over_smtp(app) {
        let (_, campaign) = open_campaign(&app).await;
        let queued = outbox(&app).await;
        assert_eq!(queued.len(), 3);
        assert!(queued.iter().all(|m| m["status"] == "pending" && m["attempts"] == 0 && m["kind"] == "campaign_opened"));

        let smtp = SmtpServer::start();
        let worker = app.worker(app.smtp_mailer(smtp.port));
        assert_eq!(worker.drain().await.unwrap(), 3);

        let got = smtp.messages();
        let rcpts: BTreeSet<String> = got.iter().flat_map(|m| m.rcpt.clone()).collect();
        assert_eq!(rcpts, ["achats@arch.fr", "achats@bmh.fr", "achats@nmh.fr"].into_iter().map(String::from).collect());
        for m in &got {
            assert_eq!(m.subject, "[Groupement Ouest] Recensement des besoins ouvert : Entretien 2027 (jusqu'au 14 décembre 2026 à 18 h 00)");
            assert!(m.text.contains("Le coordonnateur du groupement de commandes « Groupement Ouest » ouvre le recensement des besoins « Entretien 2027 »"), "{}", m.text);
            assert!(m.text.contains("jusqu'au 14 décembre 2026 à 18 h 00. Passé cette date"));
            assert!(m.text.contains("Les dates sont à l'heure de Paris."));
            assert!(m.text.contains(&campaign));
            assert!(m.html.contains("<strong>14 décembre 2026 à 18 h 00</strong>"));
        }
        let bmh = got.iter().find(|m| m.rcpt == ["achats@bmh.fr"]).unwrap();
        assert_eq!(bmh.to, "achats@bmh.fr");
        assert!(bmh.text.contains("Les agents de Brest Métropole Habitat peuvent saisir"));

        let sent = outbox(&app).await;
        assert!(sent.iter().all(|m| m["status"] == "sent" && m["attempts"] == 1 && m["last_error"].is_null()));
        let ids: BTreeSet<String> = sent.iter().map(|m| m["message_id"].as_str().unwrap().to_owned()).collect();
        let received_ids: BTreeSet<String> = got.iter().map(|m| m.message_id.clone()).collect();
        assert_eq!(ids, received_ids, "the Message-ID sent is the outbox row's");
        assert_eq!(worker.drain().await.unwrap(), 0, "nothing is sent twice");
        assert_eq!(smtp.messages().len(), 3);
    }

    async fn smtp_down_keeps_mail_pending_with_the_error_then_delivers_each_once(app) {
        let port = free_port();
        let worker = app.worker(app.smtp_mailer(port));
        open_campaign(&app).await;
        let pass = worker.run_once(None).await.unwrap();
        assert_eq!((pass.sent, pass.failed), (0, 3));
        let queued = outbox(&app).await;
        for m in &queued {
            assert_eq!(m["status"], "pending");
            assert_eq!(m["attempts"], 1);
            assert!(!m["last_error"].as_str().unwrap_or("").is_empty(), "{m}");
            assert_eq!(m["next_attempt_at"], "2026-11-30T08:00:30Z", "retry after retry_base_ms");
        }
        // Not due yet: nothing is attempted.
        assert_eq!(worker.run_once(None).await.unwrap().attempted(), 0);
        // Second failure doubles the delay.
        app.clock.advance(chrono::Duration::seconds(30));
        assert_eq!(worker.run_once(None).await.unwrap().failed, 3);
        assert!(outbox(&app).await.iter().all(|m| m["attempts"] == 2 && m["next_attempt_at"] == "2026-11-30T08:01:30Z"));

        let smtp = SmtpServer::start_on(port);
        app.clock.advance(chrono::Duration::seconds(60));
        assert_eq!(worker.drain().await.unwrap(), 3);
        let got = smtp.messages();
        assert_eq!(got.len(), 3);
        assert_eq!(got.iter().map(|m| m.message_id.clone()).collect::<BTreeSet<_>>().len(), 3, "each mail exactly once");
        assert!(outbox(&app).await.iter().all(|m| m["status"] == "sent" && m["attempts"] == 3));
        app.clock.advance(chrono::Duration::hours(2));
        assert_eq!(worker.drain().await.unwrap(), 0);
        assert_eq!(smtp.messages().len(), 3);
    }

    async fn too_many_attempts_mark_failed_but_keep_the_mail(app) {
        let worker = app.worker_with(app.smtp_mailer(free_port()), |s| s.outbox.max_attempts = 2);
        enqueue_many(&app, vec![mail("achats@nmh.fr", 1)]);
        worker.run_once(None).await.unwrap();
        app.clock.advance(chrono::Duration::seconds(30));
        worker.run_once(None).await.unwrap();
        let failed = app.get("/api/v1/outbox?status=failed", &app.admin).await.ok(200);
        let items = failed["items"].as_array().unwrap();
        assert_eq!(items.len(), 1);
        assert_eq!(items[0]["attempts"], 2);
        app.clock.advance(chrono::Duration::hours(3));
        assert_eq!(worker.run_once(None).await.unwrap().attempted(), 0, "a failed mail is not retried");
        assert_eq!(app.count("outbox"), 1, "and never deleted");
    }

    async fn permanent_refusal_is_failed_at_once_and_listed(app) {
        let smtp = SmtpServer::start();
        let worker = app.worker(app.smtp_mailer(smtp.port));
        enqueue_many(&app, vec![mail("refuse@nmh.fr", 1), mail("achats@nmh.fr", 2), mail("pas une adresse", 3)]);
        // One pass, one batch, sent together: the refusals do not hold back the good one.
        let pass = worker.run_once(None).await.unwrap();
        assert_eq!((pass.sent, pass.failed), (1, 2));
        let failed = app.get("/api/v1/outbox?status=failed", &app.admin).await.ok(200);
        let failed = failed["items"].as_array().unwrap();
        assert_eq!(failed.len(), 2);
        let refused = failed.iter().find(|m| m["recipient"] == "refuse@nmh.fr").unwrap();
        assert_eq!(refused["attempts"], 1);
        assert!(refused["last_error"].as_str().unwrap().contains("550"), "{refused}");
        let invalid = failed.iter().find(|m| m["recipient"] == "pas une adresse").unwrap();
        assert!(invalid["last_error"].as_str().unwrap().contains("invalid recipient"));
        assert_eq!(smtp.messages().len(), 1);
        assert_eq!(smtp.messages()[0].subject, "Essai n° 2");
        app.get("/api/v1/outbox?status=lost", &app.admin).await.invalid("/query/status");
        app.seed_members().await;
        app.get("/api/v1/outbox", &app.token(Role::Lead, Some("NMH"), None)).await.problem(403, "forbidden");
        app.get("/api/v1/outbox", &app.token(Role::Officer, Some("NMH"), None)).await.problem(403, "forbidden");
    }

    async fn a_claim_whose_worker_died_is_delivered_after_the_lease(app) {
        let smtp = SmtpServer::start();
        open_campaign(&app).await;
        let dead = app.worker(app.smtp_mailer(smtp.port));
        let claimed = dead.claim().await.unwrap();
        assert_eq!(claimed.len(), 3);
        drop(dead); // dies between claim and mark
        assert!(outbox(&app).await.iter().all(|m| m["status"] == "sending"));
        let other = app.worker(app.smtp_mailer(smtp.port));
        assert_eq!(other.run_once(None).await.unwrap().attempted(), 0, "the lease still holds");
        app.clock.advance(chrono::Duration::milliseconds(59_999));
        assert_eq!(other.run_once(None).await.unwrap().attempted(), 0);
        app.clock.advance(chrono::Duration::milliseconds(1));
        assert_eq!(other.drain().await.unwrap(), 3);
        assert_eq!(smtp.messages().len(), 3);
        assert!(outbox(&app).await.iter().all(|m| m["status"] == "sent" && m["attempts"] == 2));
    }

    async fn a_slow_worker_does_not_send_what_another_took_over(app) {
        let smtp = SmtpServer::start();
        enqueue_many(&app, (0..3).map(|n| mail("achats@nmh.fr", n)).collect());
        let slow = app.worker(app.smtp_mailer(smtp.port));
        let claimed = slow.claim().await.unwrap();
        // The slow worker's lease runs out; another worker takes the messages over and sends them.
        app.clock.advance(chrono::Duration::seconds(61));
        let other = app.worker(app.smtp_mailer(smtp.port));
        assert_eq!(other.drain().await.unwrap(), 3);
        // The slow worker resumes its old batch: nothing is sent twice.
        let pass = slow.deliver(claimed, None).await.unwrap();
        assert_eq!((pass.sent, pass.skipped), (0, 3));
        assert_eq!(smtp.messages().len(), 3);
        assert!(outbox(&app).await.iter().all(|m| m["status"] == "sent"));
    }

    async fn two_workers_draining_concurrently_send_each_mail_once(app) {
        let smtp = SmtpServer::start();
        enqueue_many(&app, (0..150).map(|n| mail(&format!("agent{n}@nmh.fr"), n)).collect());
        let workers: Vec<_> = (0..2)
            .map(|_| app.worker_with(app.smtp_mailer(smtp.port), |s| {
                s.outbox.batch_size = 7;
                s.outbox.concurrency = 3;
            }))
            .collect();
        let threads: Vec<_> = workers
            .into_iter()
            .map(|w| std::thread::spawn(move || actix_rt::System::new().block_on(async move { w.drain().await.unwrap() })))
            .collect();
        let counts: Vec<usize> = threads.into_iter().map(|t| t.join().unwrap()).collect();
        assert_eq!(counts.iter().sum::<usize>(), 150, "{counts:?}");
        let got = smtp.messages();
        assert_eq!(got.len(), 150);
        assert_eq!(got.iter().map(|m| m.message_id.clone()).collect::<BTreeSet<_>>().len(), 150, "no mail sent twice");
        assert!(outbox(&app).await.iter().all(|m| m["status"] == "sent" && m["attempts"] == 1));
    }

    async fn sessions_stay_open_across_messages_and_batches(app) {
        let smtp = SmtpServer::start();
        enqueue_many(&app, (0..60).map(|n| mail(&format!("agent{n}@nmh.fr"), n)).collect());
        let worker = app.worker_with(app.smtp_mailer(smtp.port), |s| {
            s.outbox.batch_size = 10;
            s.outbox.concurrency = 3;
        });
        assert_eq!(worker.drain().await.unwrap(), 60);
        assert_eq!(smtp.messages().len(), 60);
        // Six batches of ten, three at a time: at most three sessions (mail.smtp.pool_size is 4),
        // not one per message.
        assert!((1..=3).contains(&smtp.sessions()), "{} sessions for 60 messages", smtp.sessions());
        // lettre's client ends a session on a refusal: the next message opens a new one and
        // is delivered.
        let single = app.worker_with(app.smtp_mailer(smtp.port), |s| s.outbox.concurrency = 1);
        enqueue_many(&app, vec![mail("refuse@nmh.fr", 60)]);
        single.drain().await.unwrap();
        let before = smtp.sessions();
        enqueue_many(&app, vec![mail("agent60@nmh.fr", 61), mail("agent61@nmh.fr", 62)]);
        single.drain().await.unwrap();
        assert_eq!(smtp.messages().len(), 62);
        assert_eq!(smtp.sessions(), before + 1, "one new session for the two messages after the refusal");
    }

    async fn a_restarted_worker_takes_back_its_claims_at_once(app) {
        let smtp = SmtpServer::start();
        enqueue_many(&app, (0..12).map(|n| mail("achats@nmh.fr", n)).collect());
        // kill -9 between claim and delivery: the claims stay, with a 60 s lease.
        let killed = app.named_worker(app.smtp_mailer(smtp.port), "nantes-1");
        assert_eq!(killed.claim().await.unwrap().len(), 12);
        drop(killed);
        // Another instance must still respect the lease...
        let other = app.named_worker(app.smtp_mailer(smtp.port), "brest-1");
        assert_eq!(other.run_once(None).await.unwrap().attempted(), 0, "the lease still holds for others");
        // ...but the same instance, started again, takes them back without waiting for it.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let restarted = actix_rt::spawn(app.named_worker(app.smtp_mailer(smtp.port), "nantes-1").run(stopped));
        for _ in 0..100 {
            if smtp.messages().len() == 12 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        stop.send(true).unwrap();
        restarted.await.unwrap();
        assert_eq!(smtp.messages().len(), 12, "delivered without the clock moving past the lease");
        assert!(outbox(&app).await.iter().all(|m| m["status"] == "sent" && m["attempts"] == 2));
        assert_eq!(smtp.messages().iter().map(|m| m.message_id.clone()).collect::<BTreeSet<_>>().len(), 12);
    }

    async fn a_rolled_back_transaction_leaves_no_outbox_row(app) {
        let now = app.clock_now();
        let result = app
            .state
            .db
            .write(move |conn| {
                enqueue(conn, &mail("achats@nmh.fr", 1), "tenderpool.test", now)?;
                Err::<(), _>(ApiError::conflict("later_failure", "the change failed after enqueueing"))
            })
            .await;
        assert_eq!(result.unwrap_err().code, "later_failure");
        assert_eq!(app.count("outbox"), 0);
        // Through the API: a refused campaign enqueues nothing.
        let group = app.seed_group().await;
        let lead = app.token(Role::Lead, Some("NMH"), None);
        app.post(&format!("/api/v1/groups/{group}/campaigns"), &lead, json!({"title": "", "needs_deadline": "2026-12-14T18:00:00+01:00"})).await.invalid("/title");
        assert_eq!(app.count("outbox"), 0);
    }

    async fn reminders_go_once_to_members_that_submitted_nothing(app) {
        let (_, campaign) = open_campaign(&app).await;
        let nmh = app.token(Role::Officer, Some("NMH"), None);
        let bmh = app.token(Role::Officer, Some("BMH"), None);
        let body = json!({"title": "Peinture", "cpv": "45442100-8", "quantity": "10", "unit": "m2",
            "estimated_unit_price": "5", "vat_rate": "10", "delivery_site": "Nantes", "wanted_by": "2027-03-01"});
        let n = app.post(&format!("/api/v1/campaigns/{campaign}/needs"), &nmh, body.clone()).await.ok(201);
        app.post(&format!("/api/v1/needs/{}/submit", n["id"].as_str().unwrap()), &nmh, json!({})).await.ok(200);
        app.post(&format!("/api/v1/campaigns/{campaign}/needs"), &bmh, body).await.ok(201); // a draft only
        let worker = app.worker(Mailer::from_settings(&{
            let mut m = app.state.settings.mail.clone();
            m.transport = tenderpool::config::MailTransportKind::Memory;
            m
        }).unwrap());
        worker.drain().await.unwrap(); // the opening notices
        // Before the window (deadline 2026-12-14T17:00Z, 3 days before): nothing.
        app.clock.set(chrono::DateTime::parse_from_rfc3339("2026-12-11T16:59:59Z").unwrap().into());
        assert_eq!(worker.run_once(None).await.unwrap().reminders, 0);
        app.clock.set(chrono::DateTime::parse_from_rfc3339("2026-12-11T17:00:00Z").unwrap().into());
        // The scan runs at most every outbox.housekeeping_ms (2 s): not yet one second later.
        assert_eq!(worker.run_once(None).await.unwrap().reminders, 0);
        app.clock.set(chrono::DateTime::parse_from_rfc3339("2026-12-11T17:00:00.999Z").unwrap().into());
        assert_eq!(worker.run_once(None).await.unwrap().reminders, 0);
        app.clock.set(chrono::DateTime::parse_from_rfc3339("2026-12-11T17:00:01Z").unwrap().into());
        let pass = worker.run_once(None).await.unwrap();
        assert_eq!((pass.reminders, pass.sent), (2, 2));
        app.clock.advance(chrono::Duration::hours(12));
        assert_eq!(worker.run_once(None).await.unwrap().reminders, 0, "sent once");
        let reminders: Vec<_> = worker.mailer().sent().into_iter().filter(|m| m.subject.contains("Rappel")).collect();
        let to: BTreeSet<_> = reminders.iter().map(|m| m.to.clone()).collect();
        assert_eq!(to, ["achats@arch.fr", "achats@bmh.fr"].into_iter().map(String::from).collect());
        assert_eq!(reminders[0].subject, "[Groupement Ouest] Rappel : le recensement « Entretien 2027 » se termine le 14 décembre 2026 à 18 h 00");
        // After the deadline: none.
        app.clock.set(chrono::DateTime::parse_from_rfc3339("2026-12-14T17:00:00Z").unwrap().into());
        assert_eq!(worker.run_once(None).await.unwrap().reminders, 0);
    }

    async fn file_transport_writes_one_eml_per_message(app) {
        let dir = tempfile::tempdir().unwrap();
        let mut settings = app.state.settings.mail.clone();
        settings.file_dir = dir.path().join("outbox-mail").display().to_string();
        let worker = app.worker(Mailer::from_settings(&settings).unwrap());
        open_campaign(&app).await;
        assert_eq!(worker.drain().await.unwrap(), 3);
        let files: Vec<_> = std::fs::read_dir(dir.path().join("outbox-mail")).unwrap().flatten().map(|e| e.path()).collect();
        assert_eq!(files.len(), 3);
        let ids: BTreeSet<String> = outbox(&app).await.iter().map(|m| format!("{}.eml", m["id"].as_str().unwrap())).collect();
        let names: BTreeSet<String> = files.iter().map(|p| p.file_name().unwrap().to_string_lossy().into_owned()).collect();
        assert_eq!(names, ids);
        let raw = std::fs::read(&files[0]).unwrap();
        let parsed = mailparse::parse_mail(&raw).unwrap();
        let subject = parsed.headers.iter().find(|h| h.get_key() == "Subject").unwrap().get_value();
        assert!(subject.contains("Recensement des besoins ouvert"));
    }

    async fn a_stopping_worker_gives_its_claims_back_for_the_next_one(app) {
        let smtp = SmtpServer::start();
        enqueue_many(&app, (0..4).map(|n| mail("achats@nmh.fr", n)).collect());
        let worker = app.worker(app.smtp_mailer(smtp.port));
        let claimed = worker.claim().await.unwrap();
        assert_eq!(claimed.len(), 4);
        let (stop, stopped) = tokio::sync::watch::channel(false);
        stop.send(true).unwrap();
        let pass = worker.deliver(claimed, Some(&stopped)).await.unwrap();
        assert_eq!((pass.sent, pass.released), (0, 4));
        assert!(outbox(&app).await.iter().all(|m| m["status"] == "pending" && m["attempts"] == 0));
        // The run loop returns promptly once told to stop.
        let (stop, stopped) = tokio::sync::watch::channel(false);
        let running = actix_rt::spawn(app.worker(app.smtp_mailer(smtp.port)).run(stopped));
        stop.send(true).unwrap();
        tokio::time::timeout(std::time::Duration::from_secs(10), running).await.expect("worker stops").unwrap();
        // A restarted worker delivers what was pending, without waiting for a lease.
        assert_eq!(app.worker(app.smtp_mailer(smtp.port)).drain().await.unwrap(), 4);
        assert_eq!(smtp.messages().len(), 4);
    }
}
