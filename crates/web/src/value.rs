//! JavaScript values ↔ BOSS values, for the arguments and results of commands.
//!
//! `Uint8Array` (and `ArrayBuffer`) ↔ binary, string ↔ text, integer numbers (and `BigInt`)
//! ↔ integers, other numbers ↔ doubles, booleans, `null`/`undefined` → null, `Date` ↔ time,
//! arrays ↔ lists, other objects ↔ dictionaries with text keys. Integers outside JavaScript's
//! safe range come back as `BigInt`.

use js_sys::{Array, Object, Reflect, Uint8Array};
use parsec_boss::{Time, Value};
use wasm_bindgen::{JsCast, JsValue};

/// Deepest nesting taken from a page (BOSS decoders stop at a similar depth), and most values
/// in all (an array shared at every level would otherwise be visited 2^depth times).
const MAX_DEPTH: usize = 64;
const MAX_VALUES: usize = 100_000;

/// The BOSS value of a JavaScript value.
pub fn from_js(v: &JsValue) -> Result<Value, String> {
    convert(v, 0, &mut 0)
}

fn convert(v: &JsValue, depth: usize, seen: &mut usize) -> Result<Value, String> {
    if depth > MAX_DEPTH {
        return Err(format!("arguments nested deeper than {MAX_DEPTH}"));
    }
    *seen += 1;
    if *seen > MAX_VALUES {
        return Err(format!("arguments of more than {MAX_VALUES} values"));
    }
    if v.is_null() || v.is_undefined() {
        return Ok(Value::Null);
    }
    if let Some(b) = v.as_bool() {
        return Ok(Value::Bool(b));
    }
    if let Some(n) = v.as_f64() {
        return Ok(if n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_991.0 {
            Value::Int(n as i128)
        } else {
            Value::Float(n)
        });
    }
    if let Some(s) = v.as_string() {
        return Ok(Value::Text(s));
    }
    if v.is_bigint() {
        let text = String::from(
            js_sys::BigInt::from(v.clone())
                .to_string(10)
                .map_err(|_| "a BigInt that does not print")?,
        );
        let n: i128 = text
            .parse()
            .map_err(|_| format!("the integer {text} is out of range"))?;
        return Ok(Value::Int(n));
    }
    if let Some(bytes) = v.dyn_ref::<Uint8Array>() {
        return Ok(Value::Bin(bytes.to_vec()));
    }
    if let Some(buffer) = v.dyn_ref::<js_sys::ArrayBuffer>() {
        return Ok(Value::Bin(Uint8Array::new(buffer).to_vec()));
    }
    if let Some(date) = v.dyn_ref::<js_sys::Date>() {
        let ms = date.get_time();
        if !ms.is_finite() {
            return Err("an invalid Date".into());
        }
        return Ok(Value::Time(Time((ms / 1000.0).floor().max(0.0) as u64)));
    }
    if Array::is_array(v) {
        let items: Array = v.clone().unchecked_into();
        return items
            .iter()
            .map(|item| convert(&item, depth + 1, seen))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::List);
    }
    if v.is_object() {
        let object: &Object = v.unchecked_ref();
        let mut pairs = Vec::new();
        for entry in Object::entries(object).iter() {
            let entry: Array = entry.unchecked_into();
            let key = entry.get(0).as_string().unwrap_or_default();
            pairs.push((Value::Text(key), convert(&entry.get(1), depth + 1, seen)?));
        }
        return Ok(Value::Dict(pairs));
    }
    Err("a value that BOSS cannot carry (a function or a symbol)".into())
}

/// The JavaScript value of a BOSS value.
pub fn to_js(v: &Value) -> JsValue {
    match v {
        Value::Null => JsValue::NULL,
        Value::Bool(b) => JsValue::from_bool(*b),
        Value::Int(n) if n.unsigned_abs() <= 9_007_199_254_740_991 => JsValue::from_f64(*n as f64),
        Value::Int(n) => js_sys::BigInt::new(&JsValue::from_str(&n.to_string()))
            .map(JsValue::from)
            .unwrap_or(JsValue::NULL),
        Value::BigInt(_) => JsValue::NULL,
        Value::Float(f) => JsValue::from_f64(*f),
        Value::Text(s) => JsValue::from_str(s),
        Value::Bin(b) => Uint8Array::from(b.as_slice()).into(),
        Value::List(items) => items.iter().map(to_js).collect::<Array>().into(),
        Value::Dict(pairs) => {
            let object = Object::new();
            for (k, v) in pairs {
                let key = match k {
                    Value::Text(s) => JsValue::from_str(s),
                    other => to_js(other),
                };
                // Defined, not assigned: a key `__proto__` in an answer stays a key.
                let field = Object::new();
                let _ = Reflect::set(&field, &"value".into(), &to_js(v));
                for flag in ["writable", "enumerable", "configurable"] {
                    let _ = Reflect::set(&field, &flag.into(), &JsValue::TRUE);
                }
                let _ = Reflect::define_property(&object, &key, &field);
            }
            object.into()
        }
        Value::Time(t) => js_sys::Date::new(&JsValue::from_f64(t.seconds() as f64 * 1000.0)).into(),
    }
}
