//! Proves the DynamoDB Local harness (`support::dynamodb_local`) and pins down how DynamoDB
//! Local behaves on what the DynamoDB store relies on: streams on a new table, conditional
//! writes, transaction cancellation reasons, and reading the table's stream.

mod support;

use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, AttributeValue, BillingMode, ConditionCheck, KeySchemaElement, KeyType,
    Put, ReturnValuesOnConditionCheckFailure, ScalarAttributeType, StreamSpecification,
    StreamViewType, TableStatus, TransactWriteItem,
};
use aws_sdk_dynamodbstreams::types::{
    AttributeValue as StreamValue, OperationType, ShardIteratorType,
};
use std::time::{Duration, Instant};
use support::dynamodb_local;

fn s(value: &str) -> AttributeValue {
    AttributeValue::S(value.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dynamodb_local_serves_conditions_transactions_and_streams() {
    let client = dynamodb_local::client().await;
    let table = dynamodb_local::unique_table("smoke");

    // A table with a NEW_IMAGE stream. DynamoDB Local creates it ACTIVE at once, stream ARN
    // included, so no waiter is needed.
    let created = client
        .create_table()
        .table_name(&table)
        .attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name("pk")
                .attribute_type(ScalarAttributeType::S)
                .build()
                .unwrap(),
        )
        .key_schema(
            KeySchemaElement::builder()
                .attribute_name("pk")
                .key_type(KeyType::Hash)
                .build()
                .unwrap(),
        )
        .billing_mode(BillingMode::PayPerRequest)
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::NewImage)
                .build()
                .unwrap(),
        )
        .send()
        .await
        .expect("CreateTable");
    let description = created.table_description().expect("a table description");
    assert_eq!(description.table_status(), Some(&TableStatus::Active));
    let stream_arn = description
        .latest_stream_arn()
        .expect("a stream ARN on the new table")
        .to_owned();

    // A conditional put succeeds once; the second fails with ConditionalCheckFailed and, when
    // asked, returns the item that is there.
    let put = || {
        client
            .put_item()
            .table_name(&table)
            .item("pk", s("member#1"))
            .item("points", AttributeValue::N("10".into()))
            .condition_expression("attribute_not_exists(pk)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
    };
    put().send().await.expect("the first conditional put");
    let err = put()
        .send()
        .await
        .expect_err("the second conditional put must fail");
    match err.into_service_error() {
        PutItemError::ConditionalCheckFailedException(e) => {
            let item = e.item().expect("ALL_OLD returns the existing item");
            assert_eq!(item.get("points"), Some(&AttributeValue::N("10".into())));
        }
        other => panic!("expected ConditionalCheckFailedException, got {other:?}"),
    }

    // A transaction whose second item's condition fails: nothing is written, and the
    // cancellation reasons line up with the items, "None" for the one that did not fail.
    let err = client
        .transact_write_items()
        .transact_items(
            TransactWriteItem::builder()
                .put(
                    Put::builder()
                        .table_name(&table)
                        .item("pk", s("member#2"))
                        .condition_expression("attribute_not_exists(pk)")
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .transact_items(
            TransactWriteItem::builder()
                .condition_check(
                    ConditionCheck::builder()
                        .table_name(&table)
                        .key("pk", s("member#1"))
                        .condition_expression("attribute_not_exists(pk)")
                        .return_values_on_condition_check_failure(
                            ReturnValuesOnConditionCheckFailure::AllOld,
                        )
                        .build()
                        .unwrap(),
                )
                .build(),
        )
        .send()
        .await
        .expect_err("the transaction must be cancelled");
    let TransactWriteItemsError::TransactionCanceledException(cancelled) = err.into_service_error()
    else {
        panic!("expected TransactionCanceledException");
    };
    let codes: Vec<Option<&str>> = cancelled
        .cancellation_reasons()
        .iter()
        .map(|reason| reason.code())
        .collect();
    assert_eq!(
        codes,
        [Some("None"), Some("ConditionalCheckFailed")],
        "cancellation reasons: {:?}",
        cancelled.cancellation_reasons()
    );
    let failed = &cancelled.cancellation_reasons()[1];
    assert_eq!(
        failed.item().and_then(|item| item.get("pk")),
        Some(&s("member#1")),
        "ALL_OLD on a failed ConditionCheck returns the item: {failed:?}"
    );
    let untouched = client
        .get_item()
        .table_name(&table)
        .key("pk", s("member#2"))
        .consistent_read(true)
        .send()
        .await
        .expect("GetItem");
    assert!(
        untouched.item().is_none(),
        "a cancelled transaction wrote nothing"
    );

    // The stream holds the one write that happened: DescribeStream → GetShardIterator
    // (TRIM_HORIZON) → GetRecords.
    let streams = aws_sdk_dynamodbstreams::Client::new(&dynamodb_local::sdk_config().await);
    let stream = streams
        .describe_stream()
        .stream_arn(&stream_arn)
        .send()
        .await
        .expect("DescribeStream");
    let stream = stream.stream_description().expect("a stream description");
    assert_eq!(
        stream.stream_view_type(),
        Some(&aws_sdk_dynamodbstreams::types::StreamViewType::NewImage)
    );
    let shard_id = stream
        .shards()
        .first()
        .and_then(|shard| shard.shard_id())
        .expect("a shard")
        .to_owned();
    let mut iterator = streams
        .get_shard_iterator()
        .stream_arn(&stream_arn)
        .shard_id(&shard_id)
        .shard_iterator_type(ShardIteratorType::TrimHorizon)
        .send()
        .await
        .expect("GetShardIterator")
        .shard_iterator()
        .map(str::to_owned);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut records = Vec::new();
    while let Some(current) = iterator.take() {
        let page = streams
            .get_records()
            .shard_iterator(current)
            .send()
            .await
            .expect("GetRecords");
        records.extend(page.records().iter().cloned());
        if !records.is_empty() || Instant::now() >= deadline {
            break;
        }
        iterator = page.next_shard_iterator().map(str::to_owned);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(records.len(), 1, "one INSERT on the stream: {records:?}");
    let record = &records[0];
    assert_eq!(record.event_name(), Some(&OperationType::Insert));
    let image = record
        .dynamodb()
        .and_then(|change| change.new_image())
        .expect("a NEW_IMAGE record carries the new item");
    assert_eq!(image.get("pk"), Some(&StreamValue::S("member#1".into())));
    assert_eq!(image.get("points"), Some(&StreamValue::N("10".into())));

    client
        .delete_table()
        .table_name(&table)
        .send()
        .await
        .expect("DeleteTable");
}
