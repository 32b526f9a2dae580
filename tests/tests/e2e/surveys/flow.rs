//! The survey flow as a frontend sees it: send, read (which records
//! nothing), answer once, and the results the org reads.

use ochre_sdk::v1::{GetCsatSummaryRequest, ListSurveyResponsesRequest, SendSurveyRequest};
use ochre_tests::{prelude::*, support::set_assignee};

use super::{answer, read, refusal, scene, stored_answers};

#[tokio::test]
async fn a_customer_reads_the_survey_then_answers_once_and_the_org_sees_the_answer() {
    let s = scene().await;
    let sent = s.send().await;
    let expires = sent.expires_at.unwrap().seconds;
    let week = unix_now() as i64 + 7 * 86_400;
    assert!(
        (week - 5..=week + 5).contains(&expires),
        "7 days by default"
    );
    let page = read(&s.app, &sent.token).await.unwrap();
    assert_eq!(page.org_name, "Acme Support");
    assert!(!page.question.is_empty());
    assert_eq!(
        (page.scale_min, page.scale_max, page.answered),
        (1, 5, false)
    );
    // A mail scanner opening the link a hundred times casts no vote.
    for _ in 0..100 {
        assert!(!read(&s.app, &sent.token).await.unwrap().answered);
    }
    assert_eq!(stored_answers(&s.app).await, 0);
    let comment = "Quick and kind.\nThank you!";
    answer(&s.app, &sent.token, 4, comment).await.unwrap();
    let again = refusal(answer(&s.app, &sent.token, 1, "changed my mind").await);
    assert_eq!(
        again,
        (
            Code::FailedPrecondition,
            "this survey has already been answered".to_owned()
        )
    );
    assert_eq!(stored_answers(&s.app).await, 1);
    assert!(read(&s.app, &sent.token).await.unwrap().answered);

    // Every member reads the results, light agents included.
    let light = add_member(&s.app, &s.owner, &s.org, Role::LightAgent).await;
    for who in [&s.api, &Caller::user(&s.app, &light, &s.org)] {
        let list = who
            .list_survey_responses(ListSurveyResponsesRequest::default())
            .await
            .unwrap();
        assert_eq!(list.responses.len(), 1);
        let r = &list.responses[0];
        assert_eq!(
            (r.survey_id.as_str(), r.score),
            (sent.survey_id.as_str(), 4)
        );
        assert_eq!(
            (r.comment.as_str(), r.customer_id.as_str()),
            (comment, s.customer.as_str())
        );
        assert_eq!(r.conversation_id, s.conversation);
        assert_eq!(r.agent_user_id, s.owner.user_id, "unassigned: the sender");
        let summary = who
            .get_csat_summary(GetCsatSummaryRequest::default())
            .await
            .unwrap();
        assert_eq!((summary.responses, summary.satisfied), (1, 1));
        assert!((summary.csat - 1.0).abs() < 1e-9);
    }
}

#[tokio::test]
async fn sending_again_replaces_the_previous_link() {
    let s = scene().await;
    let first = s.send().await;
    let second = s.send().await;
    assert_ne!(first.token, second.token);
    let replaced = (
        Code::FailedPrecondition,
        "this survey link was replaced by a newer one".to_owned(),
    );
    assert_eq!(refusal(read(&s.app, &first.token).await), replaced);
    assert_eq!(refusal(answer(&s.app, &first.token, 5, "").await), replaced);
    answer(&s.app, &second.token, 5, "").await.unwrap();
    assert_eq!(stored_answers(&s.app).await, 1);
    // An answered survey is never replaced: one rating per conversation.
    let third = s.api.send_survey(SendSurveyRequest {
        conversation_id: s.conversation.clone(),
        ttl_days: 0,
        ..Default::default()
    });
    assert_eq!(
        refusal(third.await),
        (
            Code::FailedPrecondition,
            "this conversation's survey has already been answered".to_owned()
        )
    );
    assert!(read(&s.app, &second.token).await.unwrap().answered);
}

#[tokio::test]
async fn results_filter_by_period_and_agent_and_page_newest_first() {
    let s = scene().await;
    let agent = add_member(&s.app, &s.owner, &s.org, Role::Agent).await;
    let mut tokens = Vec::new();
    for (i, score) in [5, 2, 4].into_iter().enumerate() {
        let customer = s.api.customer(&format!("c{i}@example.com")).await;
        let conversation = s.api.conversation(&customer.id, "Help").await.id;
        if i == 1 {
            s.api
                .update_conversation(set_assignee(&conversation, &agent.user_id))
                .await
                .unwrap();
        }
        let sent = s
            .api
            .send_survey(SendSurveyRequest {
                conversation_id: conversation,
                ttl_days: 1,
                ..Default::default()
            })
            .await
            .unwrap();
        answer(&s.app, &sent.token, score, "").await.unwrap();
        tokens.push(sent.survey_id);
    }
    let all = s
        .api
        .get_csat_summary(GetCsatSummaryRequest::default())
        .await
        .unwrap();
    assert_eq!((all.responses, all.satisfied), (3, 2));
    assert!((all.csat - 2.0 / 3.0).abs() < 1e-9);
    let by_agent = ListSurveyResponsesRequest {
        agent_user_id: agent.user_id.clone(),
        ..Default::default()
    };
    let theirs = s.api.list_survey_responses(by_agent).await.unwrap();
    assert_eq!(theirs.responses.len(), 1);
    assert_eq!(theirs.responses[0].score, 2);
    // Pages of one, newest answer first.
    let (mut seen, mut token) = (Vec::new(), String::new());
    loop {
        let page = s
            .api
            .list_survey_responses(ListSurveyResponsesRequest {
                page_size: 1,
                page_token: token.clone(),
                ..Default::default()
            })
            .await
            .unwrap();
        seen.extend(page.responses.into_iter().map(|r| r.survey_id));
        if page.next_page_token.is_empty() {
            break;
        }
        token = page.next_page_token;
    }
    tokens.reverse();
    assert_eq!(seen, tokens);
    // A period before every answer holds none.
    let before = prost_types::Timestamp {
        seconds: unix_now() as i64 - 3600,
        nanos: 0,
    };
    let early = GetCsatSummaryRequest {
        until: Some(before),
        ..Default::default()
    };
    let early = s.api.get_csat_summary(early).await.unwrap();
    assert_eq!((early.responses, early.csat), (0, 0.0));
}

#[tokio::test]
async fn bad_filters_ttls_and_conversations_are_refused_precisely() {
    let s = scene().await;
    let now = prost_types::Timestamp {
        seconds: unix_now() as i64,
        nanos: 0,
    };
    let mut c = Checks::default();
    let backwards = ListSurveyResponsesRequest {
        since: Some(now),
        until: Some(now),
        ..Default::default()
    };
    c.call(
        "since = until",
        Code::InvalidArgument,
        s.api.list_survey_responses(backwards),
    )
    .await;
    let bad_agent = GetCsatSummaryRequest {
        agent_user_id: "nobody".into(),
        ..Default::default()
    };
    c.call(
        "agent not a UUID",
        Code::InvalidArgument,
        s.api.get_csat_summary(bad_agent),
    )
    .await;
    let bad_nanos = GetCsatSummaryRequest {
        since: Some(prost_types::Timestamp {
            seconds: 0,
            nanos: -1,
        }),
        ..Default::default()
    };
    c.call(
        "negative nanos",
        Code::InvalidArgument,
        s.api.get_csat_summary(bad_nanos),
    )
    .await;
    for ttl in [-1, 29, i32::MAX] {
        let request = SendSurveyRequest {
            conversation_id: s.conversation.clone(),
            ttl_days: ttl,
            ..Default::default()
        };
        c.call(
            &format!("ttl {ttl}"),
            Code::InvalidArgument,
            s.api.send_survey(request),
        )
        .await;
    }
    let unknown = SendSurveyRequest {
        conversation_id: uuid::Uuid::now_v7().to_string(),
        ttl_days: 0,
        ..Default::default()
    };
    c.call(
        "unknown conversation",
        Code::NotFound,
        s.api.send_survey(unknown),
    )
    .await;
    // Another org's conversation is not found either.
    let outsider = signup_and_login(&s.app, &unique_email()).await;
    let elsewhere = create_org(&s.app, &outsider, "Elsewhere").await;
    let other = Caller::user(&s.app, &outsider, &elsewhere);
    let foreign = SendSurveyRequest {
        conversation_id: s.conversation.clone(),
        ttl_days: 0,
        ..Default::default()
    };
    c.call(
        "another org's conversation",
        Code::NotFound,
        other.send_survey(foreign),
    )
    .await;
    let longest = SendSurveyRequest {
        conversation_id: s.conversation.clone(),
        ttl_days: 28,
        ..Default::default()
    };
    c.call("28 days", Code::Ok, s.api.send_survey(longest))
        .await;
    c.verify();
    assert_eq!(stored_answers(&s.app).await, 0);
}
