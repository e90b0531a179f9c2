//! One `[[device.tag]]` table: name, register, type and scaling checks, duplicate tag ids,
//! and write access (`writable`, `min`, `max`).

use protocols::modbus::{
    ByteOrder, DataType, RegisterKind, RegisterTag, TagError, TagSpec, WordOrder,
};
use protocols::model::{AssetPath, TagId};

use super::build::{span_or, value_or};
use super::device::Seen;
use super::device_sections::TagSection;
use super::diagnostic::Diagnostics;
use super::reader::Span;
use crate::settings::{TagInfo, WriteAccess};

/// Tag id used to check a tag whose own id is invalid (never published).
const PLACEHOLDER_TAG_ID: &str = "invalid/invalid/invalid/invalid/invalid";

/// Checks one tag; `None` if it has problems (all recorded). `address_base` (0 or 1) is the
/// device's: configured addresses minus it are protocol addresses.
pub(super) fn build_tag(
    d: &mut Diagnostics<'_>,
    asset: Option<&AssetPath>,
    tag: &TagSection,
    seen: &mut Seen,
    address_base: u16,
) -> Option<(RegisterTag, TagInfo)> {
    let at = |field: &str| format!("{}.{field}", tag.path);
    let id = seen.tag_id(d, asset, tag.name.as_ref(), &tag.path);
    // Without a valid id the tag's other fields are still checked, under a stand-in id.
    let checked_id = match &id {
        Some(id) => id.clone(),
        None => TagId::new(PLACEHOLDER_TAG_ID).ok()?,
    };
    let configured = tag.address.as_ref()?;
    let Some(address) = configured.get_ref().checked_sub(address_base) else {
        d.error(
            &configured.span(),
            at("address"),
            "address 0 does not exist with address_base = 1 (the first register is 1)",
        );
        return None;
    };
    let spec = TagSpec {
        id: checked_id,
        kind: *tag.register.as_ref()?.get_ref(),
        address,
        data_type: *tag.data_type.as_ref()?.get_ref(),
        order: value_or(&tag.order, WordOrder::BigEndian),
        scale: value_or(&tag.scale, 1.0),
        offset: value_or(&tag.offset, 0.0),
        bit: tag.bit.as_ref().map(|b| *b.get_ref()),
        length: value_or(&tag.length, 0),
        byte_order: value_or(&tag.byte_order, ByteOrder::HighFirst),
    };
    let write = write_access(d, tag, spec.kind, spec.data_type);
    match RegisterTag::new(spec) {
        Ok(_) if id.is_none() => None,
        Ok(_) if write.is_err() => None,
        Ok(t) => Some((
            t,
            TagInfo {
                unit: tag
                    .unit
                    .as_ref()
                    .map(|u| u.get_ref().clone())
                    .unwrap_or_default(),
                description: tag
                    .description
                    .as_ref()
                    .map(|u| u.get_ref().clone())
                    .unwrap_or_default(),
                write: write.ok().flatten(),
            },
        )),
        Err(errors) => {
            for e in errors {
                let span: Option<Span> = match e.field() {
                    "type" => tag.data_type.as_ref().map(|v| v.span()),
                    "address" => tag.address.as_ref().map(|v| v.span()),
                    "order" => tag.order.as_ref().map(|v| v.span()),
                    "scale" => tag.scale.as_ref().map(|v| v.span()),
                    "offset" => tag.offset.as_ref().map(|v| v.span()),
                    "bit" => tag
                        .bit
                        .as_ref()
                        .map(|v| v.span())
                        .or_else(|| tag.data_type.as_ref().map(|v| v.span())),
                    "length" => tag.length.as_ref().map(|v| v.span()),
                    "byte_order" => tag.byte_order.as_ref().map(|v| v.span()),
                    _ => None,
                };
                let message = match &e {
                    // Shown with the address as configured (address_base applied back).
                    TagError::AddressOverflow { width, unit, .. } => format!(
                        "address {} + {width} {unit} runs past the last address {}",
                        configured.get_ref(),
                        u32::from(protocols::modbus::MAX_ADDRESS) + u32::from(address_base)
                    ),
                    other => other.to_string(),
                };
                d.error(&span_or(span, &tag.span), at(e.field()), message);
            }
            None
        }
    }
}

/// `writable`, `min` and `max`: `Ok(None)` for a read-only tag, `Err(())` after recording
/// problems. Only coils and holding registers can be written; limits need a writable
/// numeric tag, must be finite and `min <= max`.
fn write_access(
    d: &mut Diagnostics<'_>,
    tag: &TagSection,
    kind: RegisterKind,
    data_type: DataType,
) -> Result<Option<WriteAccess>, ()> {
    let at = |field: &str| format!("{}.{field}", tag.path);
    let writable = tag.writable.as_ref().is_some_and(|w| *w.get_ref());
    let mut ok = true;
    if let Some(w) = tag.writable.as_ref().filter(|w| *w.get_ref())
        && !matches!(kind, RegisterKind::Coil | RegisterKind::Holding)
    {
        d.error(
            &w.span(),
            at("writable"),
            format!("{kind} registers are read-only in Modbus; only coil and holding tags can be writable"),
        );
        ok = false;
    }
    for (field, limit) in [("min", &tag.min), ("max", &tag.max)] {
        let Some(limit) = limit else { continue };
        let problem = if !writable {
            Some(format!("{field} limits writes and needs writable = true"))
        } else if data_type == DataType::Bool {
            Some(format!("{field} has no meaning for type bool (omit it)"))
        } else if !limit.get_ref().is_finite() {
            Some(format!("{field} must be a finite number"))
        } else {
            None
        };
        if let Some(problem) = problem {
            d.error(&limit.span(), at(field), problem);
            ok = false;
        }
    }
    if let (Some(min), Some(max)) = (&tag.min, &tag.max)
        && min.get_ref() > max.get_ref()
    {
        d.error(
            &max.span(),
            at("max"),
            format!("max ({}) is below min ({})", max.get_ref(), min.get_ref()),
        );
        ok = false;
    }
    match (ok, writable) {
        (false, _) => Err(()),
        (true, false) => Ok(None),
        (true, true) => Ok(Some(WriteAccess {
            min: tag.min.as_ref().map(|m| *m.get_ref()),
            max: tag.max.as_ref().map(|m| *m.get_ref()),
        })),
    }
}
