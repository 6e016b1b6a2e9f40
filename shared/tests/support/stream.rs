//! The table's DynamoDB stream on DynamoDB Local, read with the Streams API and handed over
//! as the Lambda event the `credit` function receives (`{"Records": [...]}`).

use super::dynamodb_local;
use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use greenloop::store::dynamodb::DynamoStore;
use serde_json::{json, Map, Value};

/// A stream attribute value in the JSON form Lambda delivers (`{"S": "..."}`).
fn attribute(v: &AttributeValue) -> Value {
    let list = |xs: &[String]| json!(xs);
    match v {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(b) => json!({ "NULL": b }),
        AttributeValue::Ss(xs) => json!({ "SS": list(xs) }),
        AttributeValue::Ns(xs) => json!({ "NS": list(xs) }),
        AttributeValue::M(m) => json!({ "M": image(m) }),
        AttributeValue::L(xs) => json!({ "L": xs.iter().map(attribute).collect::<Vec<_>>() }),
        other => panic!("the table holds no {other:?}"),
    }
}

fn image(m: &std::collections::HashMap<String, AttributeValue>) -> Value {
    Value::Object(
        m.iter()
            .map(|(k, v)| (k.clone(), attribute(v)))
            .collect::<Map<_, _>>(),
    )
}

/// A Streams API record as the Lambda event source mapping delivers it.
fn lambda_record(r: &Record, arn: &str) -> Value {
    let d = r.dynamodb().expect("a stream record has its change");
    let mut change = json!({
        "ApproximateCreationDateTime": d.approximate_creation_date_time().map(|t| t.secs()),
        "Keys": image(d.keys().expect("keys")),
        "SequenceNumber": d.sequence_number(),
        "SizeBytes": d.size_bytes(),
        "StreamViewType": d.stream_view_type().map(|v| v.as_str()),
    });
    if let Some(new) = d.new_image() {
        change["NewImage"] = image(new);
    }
    json!({
        "eventID": r.event_id(),
        "eventName": r.event_name().map(|n| n.as_str()),
        "eventVersion": r.event_version(),
        "eventSource": r.event_source(),
        "awsRegion": r.aws_region(),
        "dynamodb": change,
        "eventSourceARN": arn,
    })
}

/// Reads every record the table's stream holds after `seen`, as one Lambda event.
pub async fn stream_event(store: &DynamoStore, seen: &mut usize) -> Value {
    let config = dynamodb_local::sdk_config().await;
    let ddb = aws_sdk_dynamodb::Client::new(&config);
    let streams = aws_sdk_dynamodbstreams::Client::new(&config);
    let arn = ddb
        .describe_table()
        .table_name(store.table())
        .send()
        .await
        .unwrap()
        .table()
        .and_then(|t| t.latest_stream_arn())
        .expect("the table has a stream")
        .to_owned();
    let description = streams
        .describe_stream()
        .stream_arn(&arn)
        .send()
        .await
        .unwrap();
    let mut records = Vec::new();
    for shard in description.stream_description().unwrap().shards() {
        let mut iterator = streams
            .get_shard_iterator()
            .stream_arn(&arn)
            .shard_id(shard.shard_id().unwrap())
            .shard_iterator_type(ShardIteratorType::TrimHorizon)
            .send()
            .await
            .unwrap()
            .shard_iterator;
        // Empty pages end a shard's backlog; an open shard never returns no iterator.
        while let Some(it) = iterator.take() {
            let page = streams
                .get_records()
                .shard_iterator(it)
                .send()
                .await
                .unwrap();
            if page.records().is_empty() {
                break;
            }
            records.extend(page.records().iter().map(|r| lambda_record(r, &arn)));
            iterator = page.next_shard_iterator;
        }
    }
    let fresh: Vec<Value> = records.split_off((*seen).min(records.len()));
    *seen += fresh.len();
    json!({ "Records": fresh })
}
