//! The model's types stay small (issue 12): a message of thousands of commands costs one
//! pointer per command in the body's `Vec` and each command its own size; a `Meta`, rare
//! on items, is boxed. Bounds on 64-bit targets, with a little room for a field more.

use std::mem::size_of;

use winmdm_syncml::{
    Alert, Command, Container, Data, Item, ItemCommand, Location, Meta, Results, Status,
};

#[test]
#[cfg(target_pointer_width = "64")]
fn model_types_stay_small() {
    let sizes = [
        ("Command", size_of::<Command<'_>>(), 16),
        ("Item", size_of::<Item<'_>>(), 288),
        ("ItemCommand", size_of::<ItemCommand<'_>>(), 152),
        ("Status", size_of::<Status<'_>>(), 288),
        ("Results", size_of::<Results<'_>>(), 232),
        ("Alert", size_of::<Alert<'_>>(), 208),
        ("Container", size_of::<Container<'_>>(), 96),
        ("Location", size_of::<Location<'_>>(), 72),
        ("Data", size_of::<Data<'_>>(), 56),
        ("Meta", size_of::<Meta<'_>>(), 216),
    ];
    for (name, size, bound) in sizes {
        eprintln!("{name}: {size} bytes (bound {bound})");
    }
    for (name, size, bound) in sizes {
        assert!(size <= bound, "{name} is {size} bytes, bound {bound}");
    }
}
