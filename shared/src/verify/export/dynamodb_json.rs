//! DynamoDB JSON, the format of an export's data files: attribute values to and from JSON, and
//! an export written in AWS's shape for tests and benchmarks.

use super::{FILES, SUMMARY};
use crate::store::dynamodb::item::Item;
use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;
use base64::engine::general_purpose::STANDARD as BASE64;
use base64::Engine as _;
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::Path;

/// One attribute value from DynamoDB JSON: `{"S":"x"}`, `{"N":"3"}`, `{"M":{...}}` and so on.
pub fn attribute_from_json(v: &Value) -> Result<AttributeValue, String> {
    let Some((t, x)) = v
        .as_object()
        .filter(|o| o.len() == 1)
        .and_then(|o| o.iter().next())
    else {
        return Err(format!("not an attribute value: {:.60}", v.to_string()));
    };
    let string = |x: &Value| {
        x.as_str()
            .map(str::to_owned)
            .ok_or_else(|| format!("{t} holds a non-string"))
    };
    let blob = |x: &Value| {
        string(x)
            .and_then(|s| BASE64.decode(s).map_err(|e| format!("bad base64: {e}")))
            .map(Blob::new)
    };
    let list = || x.as_array().ok_or_else(|| format!("{t} is not a list"));
    let boolean = |x: &Value| {
        x.as_bool()
            .ok_or_else(|| format!("{t} is not true or false"))
    };
    Ok(match t.as_str() {
        "S" => AttributeValue::S(string(x)?),
        "N" => AttributeValue::N(string(x)?),
        "B" => AttributeValue::B(blob(x)?),
        "BOOL" => AttributeValue::Bool(boolean(x)?),
        "NULL" => AttributeValue::Null(boolean(x)?),
        "M" => AttributeValue::M(item_from_json(x)?),
        "L" => AttributeValue::L(
            list()?
                .iter()
                .map(attribute_from_json)
                .collect::<Result<_, _>>()?,
        ),
        "SS" => AttributeValue::Ss(list()?.iter().map(string).collect::<Result<_, _>>()?),
        "NS" => AttributeValue::Ns(list()?.iter().map(string).collect::<Result<_, _>>()?),
        "BS" => AttributeValue::Bs(list()?.iter().map(blob).collect::<Result<_, _>>()?),
        _ => return Err(format!("unknown attribute type {t}")),
    })
}

/// An item (or an `M` value) from a JSON object of DynamoDB JSON attribute values.
pub fn item_from_json(v: &Value) -> Result<Item, String> {
    let o = v
        .as_object()
        .ok_or_else(|| format!("not an item: {:.60}", v.to_string()))?;
    o.iter()
        .map(|(k, a)| {
            Ok((
                k.clone(),
                attribute_from_json(a).map_err(|e| format!("{k}: {e}"))?,
            ))
        })
        .collect()
}

/// One attribute value as DynamoDB JSON, the inverse of [`attribute_from_json`].
pub fn attribute_to_json(v: &AttributeValue) -> Result<Value, String> {
    let strings = |v: &[String]| Value::from(v.to_vec());
    let blobs = |v: &[Blob]| {
        Value::from(
            v.iter()
                .map(|b| BASE64.encode(b.as_ref()))
                .collect::<Vec<_>>(),
        )
    };
    let (t, x) = match v {
        AttributeValue::S(s) => ("S", Value::from(s.as_str())),
        AttributeValue::N(n) => ("N", Value::from(n.as_str())),
        AttributeValue::B(b) => ("B", Value::from(BASE64.encode(b.as_ref()))),
        AttributeValue::Bool(b) => ("BOOL", Value::from(*b)),
        AttributeValue::Null(b) => ("NULL", Value::from(*b)),
        AttributeValue::M(m) => ("M", item_to_json(m)?),
        AttributeValue::L(l) => (
            "L",
            l.iter().map(attribute_to_json).collect::<Result<_, _>>()?,
        ),
        AttributeValue::Ss(v) => ("SS", strings(v)),
        AttributeValue::Ns(v) => ("NS", strings(v)),
        AttributeValue::Bs(v) => ("BS", blobs(v)),
        other => return Err(format!("an attribute value of unknown type: {other:?}")),
    };
    Ok(json!({ t: x }))
}

/// An item as a JSON object of DynamoDB JSON attribute values.
pub fn item_to_json(it: &Item) -> Result<Value, String> {
    let mut o = Map::new();
    for (k, v) in it {
        o.insert(k.clone(), attribute_to_json(v)?);
    }
    Ok(Value::Object(o))
}

/// Writes an export in AWS's shape, for tests and benchmarks: `items` shuffled by `seed` and
/// spread over `files` gzipped data files under `dir/data/`, with both manifests, as AWS writes
/// them in the export's own folder (`AWSDynamoDB/<export id>/`).
pub fn write_export(dir: &Path, items: &[Item], files: usize, seed: u64) -> std::io::Result<()> {
    use rand::{seq::SliceRandom, Rng, SeedableRng};
    if files == 0 && !items.is_empty() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "items need a data file",
        ));
    }
    let invalid = |e: String| std::io::Error::new(std::io::ErrorKind::InvalidInput, e);
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut order: Vec<&Item> = items.iter().collect();
    order.shuffle(&mut rng);
    let id = format!(
        "{:014}-{:08x}",
        rng.gen_range(1_600_000_000_000u64..1_900_000_000_000),
        rng.gen::<u32>()
    );
    std::fs::create_dir_all(dir.join("data"))?;
    let (mut manifest, mut bytes_total) = (String::new(), 0);
    for f in 0..files {
        // AWS names data files with 26 lowercase letters and digits.
        const NAME: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        let name: String = (0..26)
            .map(|_| char::from(NAME[rng.gen_range(0..NAME.len())]))
            .collect();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let mut n = 0;
        for it in order.iter().skip(f).step_by(files) {
            serde_json::to_writer(
                &mut gz,
                &json!({ "Item": item_to_json(it).map_err(invalid)? }),
            )?;
            gz.write_all(b"\n")?;
            n += 1;
        }
        let gz = gz.finish()?;
        let d = md5::compute(&gz);
        bytes_total += gz.len();
        std::fs::write(dir.join("data").join(format!("{name}.json.gz")), &gz)?;
        let md5 = BASE64.encode(d.0);
        let key = format!("AWSDynamoDB/{id}/data/{name}.json.gz");
        manifest += &format!("{{\"itemCount\":{n},\"md5Checksum\":\"{md5}\",\"etag\":\"{d:x}\",\"dataFileS3Key\":\"{key}\"}}\n");
    }
    std::fs::write(dir.join(FILES), manifest)?;
    let table = "arn:aws:dynamodb:us-east-1:000000000000:table/greenloop";
    let time = "2027-01-01T00:00:00.000Z";
    let summary = json!({
        "version": "2020-06-30", "exportArn": format!("{table}/export/{id}"), "startTime": time,
        "endTime": time, "tableArn": table, "tableId": format!("{:032x}", rng.gen::<u128>()),
        "exportTime": time, "s3Bucket": "greenloop-export", "s3Prefix": null,
        "s3SseAlgorithm": "AES256", "s3SseKmsKeyId": null,
        "manifestFilesS3Key": format!("AWSDynamoDB/{id}/{FILES}"), "billedSizeBytes": bytes_total,
        "itemCount": items.len(), "outputFormat": "DYNAMODB_JSON", "exportType": "FULL_EXPORT",
        "dataFileCount": files,
    });
    std::fs::write(dir.join(SUMMARY), serde_json::to_vec(&summary)?)?;
    std::fs::write(dir.join("_started"), b"")
}
