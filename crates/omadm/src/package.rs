//! Packaging helpers shared by both engines: message sizing, large-object chunking and
//! reassembly, CmdID assignment.

use std::borrow::Cow;

use winmdm_syncml::{
    Command, CommandKind, Data, DataContent, Meta, StatusCode, SyncBody, SyncHdr, SyncML,
};

/// The smallest `MaxMsgSize` the engines work with: a message must hold the header, a
/// handful of Status elements and some progress on a large object.
pub const MIN_MAX_MSG_SIZE: u64 = 2048;

/// Default `MaxMsgSize` assumed for a peer that does not declare one (Windows usually
/// does not): 512 KiB.
pub const DEFAULT_MAX_MSG_SIZE: u64 = 512 * 1024;

/// Default largest incoming large object accepted (declared `Meta/Size`): 16 MiB.
pub const DEFAULT_MAX_OBJECT_SIZE: u64 = 16 * 1024 * 1024;

/// Smallest data payload worth starting a chunk with, in bytes of escaped text.
const MIN_CHUNK: usize = 32;

/// The CmdID given to a command only to measure it: the widest ID a message can use, so
/// a size measured with it is an upper bound for the real one.
pub(crate) const MEASURE_CMD_ID: u32 = 99_999;

/// Room kept beside a large object's chunk for the Statuses of the peer's commands, when
/// checking whether the object can be sent at all.
pub(crate) const LARGE_OBJECT_STATUS_ROOM: usize = 512;

/// Size of the compact encoding of an empty message with this header, `<Final/>` included.
pub(crate) fn base_len(hdr: &SyncHdr<'static>) -> usize {
    SyncML {
        hdr: hdr.clone(),
        body: SyncBody {
            r#final: true,
            ..SyncBody::default()
        },
        ..SyncML::default()
    }
    .encoded_len()
}

/// Sets the `CmdID` of a command (and of its children) from a counter.
pub(crate) fn assign_ids(cmd: &mut Command<'static>, next: &mut u32) {
    let id = |n: &mut u32| {
        let s = n.to_string();
        *n += 1;
        Some(Cow::Owned(s))
    };
    match cmd {
        Command::Add(c)
        | Command::Copy(c)
        | Command::Delete(c)
        | Command::Exec(c)
        | Command::Get(c)
        | Command::Replace(c) => c.cmd_id = id(next),
        Command::Alert(c) => c.cmd_id = id(next),
        Command::Results(c) => c.cmd_id = id(next),
        Command::Status(c) => c.cmd_id = id(next),
        Command::Atomic(c) | Command::Sequence(c) => {
            c.cmd_id = id(next);
            for k in &mut c.commands {
                assign_ids(k, next);
            }
        }
        Command::Unknown(_) => {}
    }
}

/// The escaped size of one character in `Data` text (the encoder's rules).
fn esc_len(c: char) -> usize {
    match c {
        '<' | '>' => 4,
        '&' | '\r' => 5,
        _ => c.len_utf8(),
    }
}

fn single_item_mut<'c>(
    cmd: &'c mut Command<'static>,
) -> Option<&'c mut winmdm_syncml::Item<'static>> {
    let items = match cmd {
        Command::Add(c) | Command::Replace(c) | Command::Exec(c) => &mut c.items,
        Command::Results(r) => &mut r.items,
        _ => return None,
    };
    if items.len() == 1 {
        items.first_mut()
    } else {
        None
    }
}

fn single_item<'c>(cmd: &'c Command<'static>) -> Option<&'c winmdm_syncml::Item<'static>> {
    let items = match cmd {
        Command::Add(c) | Command::Replace(c) | Command::Exec(c) => &c.items,
        Command::Results(r) => &r.items,
        _ => return None,
    };
    if items.len() == 1 {
        items.first()
    } else {
        None
    }
}

/// Whether a command can be sent as a large object: one item with data.
pub(crate) fn chunkable(cmd: &Command<'static>) -> bool {
    single_item(cmd).is_some_and(|i| i.data.is_some())
}

/// The length of the data text of a chunkable command.
pub(crate) fn large_object_text_len(cmd: &Command<'static>) -> usize {
    single_item(cmd)
        .and_then(|i| i.data.as_ref().map(|d| d.as_str().len()))
        .unwrap_or(0)
}

/// Takes the data out of a chunkable command: the template to cut chunks from and the
/// text.
pub(crate) fn split_large_object(mut cmd: Command<'static>) -> (Command<'static>, String) {
    let text = single_item_mut(&mut cmd)
        .and_then(|i| i.data.take())
        .map(|d| match d.content {
            DataContent::Text(s) | DataContent::CData(s) | DataContent::Xml(s) => s.into_owned(),
        })
        .unwrap_or_default();
    (cmd, text)
}

/// The compact encoding of `<MoreData/>`, which the last chunk does without.
const MORE_DATA_LEN: usize = "<MoreData/>".len();

/// Builds the chunk of `template` (a chunkable command with its CmdID already set) that
/// starts at byte `offset` of `text` and fits in `room` bytes. `None` when not even a
/// small chunk fits. Returns the chunk, the new offset and the chunk's encoded length
/// (counted while cutting it: measuring it again would walk the chunk's text once more).
pub(crate) fn make_chunk(
    template: &Command<'static>,
    text: &str,
    offset: usize,
    room: usize,
) -> Option<(Command<'static>, usize, usize)> {
    let first = offset == 0;
    let mut probe = template.clone();
    {
        let it = single_item_mut(&mut probe)?;
        it.data = Some(Data {
            attrs: Vec::new(),
            content: DataContent::Text(Cow::Borrowed("x")),
        });
        it.more_data = true;
        let mut m = it.meta.take().unwrap_or_default();
        if first {
            m.size = Some(text.len() as u64);
        } else {
            m.size = None;
        }
        it.meta = (!m.is_empty()).then_some(m);
    }
    let overhead = probe.encoded_len() - 1;
    if overhead + MIN_CHUNK > room {
        return None;
    }
    let mut budget = room - overhead;
    let mut end = offset;
    for (i, c) in text[offset..].char_indices() {
        let l = esc_len(c);
        if l > budget {
            break;
        }
        budget -= l;
        end = offset + i + c.len_utf8();
    }
    if end == offset && offset < text.len() {
        return None;
    }
    let last = end == text.len();
    let mut chunk = probe;
    let it = single_item_mut(&mut chunk)?;
    it.data = Some(Data::text(text[offset..end].to_owned()));
    it.more_data = !last;
    let len = room - budget - if last { MORE_DATA_LEN } else { 0 };
    debug_assert_eq!(len, chunk.encoded_len(), "the chunk's size as counted");
    Some((chunk, end, len))
}

/// A lower bound of a command's encoded length that costs next to nothing: the length
/// of its items' data before escaping (escaping only ever adds bytes).
fn data_len_lower_bound(cmd: &Command<'_>) -> usize {
    match cmd {
        Command::Atomic(c) | Command::Sequence(c) => {
            c.commands.iter().map(data_len_lower_bound).sum()
        }
        other => other
            .items()
            .iter()
            .filter_map(|i| i.data.as_ref())
            .map(|d| d.as_str().len())
            .sum(),
    }
}

/// One message being packed: commands are added while they fit in the peer's
/// `MaxMsgSize`, CmdIDs assigned from 1 in order. `reserve` bytes stay free for a
/// closing `Alert 1222`.
#[derive(Debug)]
pub(crate) struct Packer {
    hdr: SyncHdr<'static>,
    budget: usize,
    base: usize,
    cur: usize,
    next: u32,
    reserve: usize,
    cmds: Vec<Command<'static>>,
}

/// How [`Packer::push`] treats a command that does not fit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fit {
    /// Refuse it.
    IfRoom,
    /// Take it anyway when the message is still empty (a message carries at least the
    /// SyncHdr's Status).
    FirstAlways,
}

impl Packer {
    /// A message with this header, held to `max_msg_size` bytes, keeping room for a
    /// closing `Alert 1222` when `reserve_next` is set.
    pub(crate) fn new(hdr: SyncHdr<'static>, max_msg_size: u64, reserve_next: bool) -> Self {
        let base = base_len(&hdr);
        let reserve = if reserve_next {
            let mut a = crate::session::next_message_alert();
            assign_ids(&mut a, &mut { MEASURE_CMD_ID });
            a.encoded_len()
        } else {
            0
        };
        Packer {
            hdr,
            budget: usize::try_from(max_msg_size).unwrap_or(usize::MAX),
            base,
            cur: base,
            next: 1,
            reserve,
            cmds: Vec::new(),
        }
    }

    /// Bytes left for commands.
    pub(crate) fn room(&self) -> usize {
        self.budget.saturating_sub(self.cur + self.reserve)
    }

    /// The size of an empty message plus its first command: what every message of this
    /// session carries at least. A command larger than the budget minus this never fits.
    pub(crate) fn floor(&self) -> usize {
        self.base + self.cmds.first().map_or(0, Command::encoded_len)
    }

    /// Whether a command of `len` bytes would fit in a message holding only the floor.
    pub(crate) fn fits_alone(&self, len: usize) -> bool {
        self.floor() + len + self.reserve <= self.budget
    }

    /// Room a large object's chunks can count on in any message of this session.
    pub(crate) fn chunk_room(&self) -> usize {
        self.budget
            .saturating_sub(self.base + self.reserve + LARGE_OBJECT_STATUS_ROOM)
    }

    /// Adds a command (its CmdIDs assigned) if it fits; gives it back otherwise, with
    /// its length.
    // The command comes back by value to be kept for later (boxing it would cost an
    // allocation per refused command for nothing).
    #[allow(clippy::result_large_err)]
    pub(crate) fn push(
        &mut self,
        mut c: Command<'static>,
        fit: Fit,
    ) -> Result<(), (Command<'static>, usize)> {
        let save = self.next;
        assign_ids(&mut c, &mut self.next);
        self.place(c, fit).inspect_err(|_| self.next = save)
    }

    #[allow(clippy::result_large_err)]
    fn place(&mut self, c: Command<'static>, fit: Fit) -> Result<(), (Command<'static>, usize)> {
        let forced = fit == Fit::FirstAlways && self.cmds.is_empty();
        // A command whose data alone fits neither here nor in a message of its own (a
        // large object) is refused without measuring it exactly: the callers only ask
        // `fits_alone` of the length given back, which says no for the lower bound too.
        let lower = data_len_lower_bound(&c);
        if !forced && self.cur + lower + self.reserve > self.budget && !self.fits_alone(lower) {
            return Err((c, lower));
        }
        let l = c.encoded_len();
        if self.cur + l + self.reserve > self.budget && !forced {
            return Err((c, l));
        }
        self.cur += l;
        self.cmds.push(c);
        Ok(())
    }

    /// Adds Statuses from the front of the queue while they fit (the first always);
    /// returns whether the queue is drained.
    pub(crate) fn push_statuses(
        &mut self,
        q: &mut std::collections::VecDeque<winmdm_syncml::Status<'static>>,
    ) -> bool {
        while let Some(st) = q.pop_front() {
            if let Err((Command::Status(st), _)) =
                self.push(Command::Status(Box::new(st)), Fit::FirstAlways)
            {
                q.push_front(*st);
                return false;
            }
        }
        true
    }

    /// Places the next chunk of an outgoing object, if one fits: returns its CmdID and
    /// whether it was the last chunk.
    pub(crate) fn push_chunk(&mut self, lo: &mut OutgoingObject) -> Option<(String, bool)> {
        let mut t = lo.template.clone();
        let mut next = self.next;
        assign_ids(&mut t, &mut next);
        let (chunk, off, len) = make_chunk(&t, &lo.text, lo.offset, self.room())?;
        lo.offset = off;
        let id = chunk.cmd_id().unwrap_or("").to_owned();
        self.cur += len;
        self.next = next;
        self.cmds.push(chunk);
        Some((id, off == lo.text.len()))
    }

    /// The commands packed so far.
    pub(crate) fn commands(&self) -> &[Command<'static>] {
        &self.cmds
    }

    /// Appends the `Alert 1222` the reserve was kept for.
    pub(crate) fn push_next_alert(&mut self) {
        let mut a = crate::session::next_message_alert();
        assign_ids(&mut a, &mut self.next);
        self.cur += a.encoded_len();
        self.cmds.push(a);
    }

    /// The message.
    pub(crate) fn finish(self, r#final: bool) -> SyncML<'static> {
        SyncML {
            hdr: self.hdr,
            body: SyncBody {
                commands: self.cmds,
                r#final,
                ..SyncBody::default()
            },
            ..SyncML::default()
        }
    }
}

/// An outgoing large object: the command without its data, the data, and how much of it
/// went out. The bytes before `offset` are never read again (a restored object holds a
/// filler there).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct OutgoingObject {
    pub(crate) template: Command<'static>,
    pub(crate) text: String,
    pub(crate) offset: usize,
}

impl OutgoingObject {
    /// Splits a chunkable command into an object, if its first chunk can fit in `room`
    /// bytes (checked with the widest CmdID).
    pub(crate) fn start(cmd: Command<'static>, room: usize) -> Option<Self> {
        let (template, text) = split_large_object(cmd);
        let mut t = template.clone();
        assign_ids(&mut t, &mut { MEASURE_CMD_ID });
        make_chunk(&t, &text, 0, room)?;
        Some(OutgoingObject {
            template,
            text,
            offset: 0,
        })
    }
}

/// What identifies an incoming large object: the command carrying it and the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ObjectKey {
    /// Results for one of our commands (its record, when it is known), from one source.
    Results {
        /// The record of the command the Results answer, `None` if they match none.
        record: Option<u64>,
        /// The item's `Source/LocURI`.
        source: String,
    },
    /// A server command (Add, Replace, Exec) to one target.
    Command {
        /// The command's kind.
        kind: CommandKind,
        /// The item's `Target/LocURI`.
        target: String,
    },
}

impl ObjectKey {
    /// The node the object is for (named in `Alert 1225`).
    pub(crate) fn uri(&self) -> &str {
        match self {
            ObjectKey::Results { source, .. } => source,
            ObjectKey::Command { target, .. } => target,
        }
    }
}

/// An incoming large object being reassembled, and whether a chunk of it arrived in the
/// current message.
#[derive(Debug, Clone)]
pub(crate) struct IncomingObject {
    pub(crate) key: ObjectKey,
    pub(crate) re: Reassembly,
    pub(crate) touched: bool,
}

/// What became of an item offered to [`feed_chunk`].
#[derive(Debug)]
pub(crate) enum Fed {
    /// Not part of a large object: handle it as a whole item.
    Whole,
    /// A chunk, kept (213), or refused with a code.
    Code(StatusCode),
    /// The last chunk: the whole data and the first chunk's Meta (without Size).
    Complete(String, Option<Box<Meta<'static>>>),
}

/// Feeds one item to the incoming object slot: starts an object on its first chunk
/// (abandoning, with the URI pushed to `abandoned`, another one still open), appends
/// chunks, completes it on the last one.
pub(crate) fn feed_chunk(
    slot: &mut Option<IncomingObject>,
    key: ObjectKey,
    item: &winmdm_syncml::Item<'_>,
    max_object_size: u64,
    abandoned: &mut Vec<String>,
) -> Fed {
    let continues = slot.as_ref().is_some_and(|l| l.key == key);
    if !item.more_data && !continues {
        return Fed::Whole;
    }
    if !continues {
        if let Some(old) = slot.take() {
            abandoned.push(old.key.uri().to_owned());
        }
        match Reassembly::start(item, max_object_size) {
            Ok(re) => {
                *slot = Some(IncomingObject {
                    key,
                    re,
                    touched: false,
                })
            }
            Err(code) => return Fed::Code(code),
        }
    }
    let Some(lo) = slot.as_mut() else {
        return Fed::Code(StatusCode::COMMAND_FAILED);
    };
    lo.touched = true;
    match lo.re.push(item) {
        Chunk::Buffered => Fed::Code(StatusCode::CHUNKED_ITEM_ACCEPTED),
        Chunk::Failed(code) => {
            *slot = None;
            Fed::Code(code)
        }
        Chunk::Complete(text, meta) => {
            *slot = None;
            Fed::Complete(text, meta)
        }
    }
}

/// After a peer message: an open incoming object that got no chunk in a message that
/// ends the peer's package or brings other commands is abandoned. Returns its URI (the
/// caller sends `Alert 1225`).
pub(crate) fn end_of_message(
    slot: &mut Option<IncomingObject>,
    msg: &SyncML<'_>,
) -> Option<String> {
    if slot.as_ref().is_some_and(|l| !l.touched)
        && (msg.body.r#final || crate::session::has_new_commands(&msg.body.commands))
    {
        return slot.take().map(|o| o.key.uri().to_owned());
    }
    if let Some(l) = slot.as_mut() {
        l.touched = false;
    }
    None
}

/// Outcome of feeding one item chunk to a [`Reassembly`].
#[derive(Debug)]
pub(crate) enum Chunk {
    /// More to come: answer 213.
    Buffered,
    /// The object is complete: the whole data.
    Complete(String, Option<Box<Meta<'static>>>),
    /// The sizes do not match (424) or the object is too large (413) or has no size (411).
    Failed(StatusCode),
}

/// An incoming large object being reassembled.
#[derive(Debug, Default, Clone)]
pub(crate) struct Reassembly {
    pub(crate) declared: u64,
    pub(crate) buf: String,
    pub(crate) meta: Option<Meta<'static>>,
}

impl Reassembly {
    /// Starts an object from its first chunk.
    pub(crate) fn start(item: &winmdm_syncml::Item<'_>, max: u64) -> Result<Self, StatusCode> {
        let declared = item
            .meta
            .as_ref()
            .and_then(|m| m.size)
            .ok_or(StatusCode::SIZE_REQUIRED)?;
        if declared > max {
            return Err(StatusCode::REQUEST_ENTITY_TOO_LARGE);
        }
        let mut meta = item.meta.clone().map(|m| m.into_owned());
        if let Some(m) = &mut meta {
            m.size = None;
        }
        Ok(Reassembly {
            declared,
            buf: String::new(),
            meta: meta.filter(|m| !m.is_empty()),
        })
    }

    /// Adds a chunk.
    pub(crate) fn push(&mut self, item: &winmdm_syncml::Item<'_>) -> Chunk {
        if let Some(d) = &item.data {
            self.buf.push_str(d.as_str());
        }
        if self.buf.len() as u64 > self.declared {
            return Chunk::Failed(StatusCode::SIZE_MISMATCH);
        }
        if item.more_data {
            return Chunk::Buffered;
        }
        if self.buf.len() as u64 != self.declared {
            return Chunk::Failed(StatusCode::SIZE_MISMATCH);
        }
        Chunk::Complete(
            std::mem::take(&mut self.buf),
            self.meta.take().map(Box::new),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use winmdm_syncml::{Item, ItemCommand, Location};

    fn replace(data: &str) -> Command<'static> {
        Command::Replace(Box::new(ItemCommand {
            cmd_id: Some("7".into()),
            items: vec![Item {
                target: Some(Location::uri("./Vendor/MSFT/X")),
                meta: Some(Box::new(Meta::format("chr"))),
                data: Some(Data::text(data.to_owned())),
                ..Item::default()
            }],
            ..ItemCommand::default()
        }))
    }

    #[test]
    fn chunks_fit_and_reassemble_byte_exact() {
        let text: String = "a<b>&c\r\n€ ".repeat(300);
        let (tpl, t2) = split_large_object(replace(&text));
        assert_eq!(t2, text);
        let mut off = 0;
        let mut re: Option<Reassembly> = None;
        let mut n = 0;
        loop {
            let (c, next, len) = make_chunk(&tpl, &text, off, 500).unwrap();
            assert!(c.encoded_len() <= 500, "{}", c.encoded_len());
            assert_eq!(len, c.encoded_len());
            let it = &c.items()[0];
            if off == 0 {
                assert_eq!(it.meta.as_ref().unwrap().size, Some(text.len() as u64));
                re = Some(Reassembly::start(it, 1 << 20).unwrap());
            } else {
                assert_eq!(it.meta.as_ref().unwrap().size, None);
            }
            n += 1;
            match re.as_mut().unwrap().push(it) {
                Chunk::Buffered => assert!(it.more_data),
                Chunk::Complete(s, m) => {
                    assert_eq!(s, text);
                    assert_eq!(m.unwrap().format.as_deref(), Some("chr"));
                    break;
                }
                Chunk::Failed(c) => panic!("{c}"),
            }
            off = next;
        }
        assert!(n > 5);
        assert!(make_chunk(&tpl, &text, 0, 100).is_none());
    }

    #[test]
    fn size_errors() {
        let mut it = replace("abc").items()[0].clone();
        assert_eq!(
            Reassembly::start(&it, 10).unwrap_err(),
            StatusCode::SIZE_REQUIRED
        );
        it.meta.as_mut().unwrap().size = Some(100);
        assert_eq!(
            Reassembly::start(&it, 10).unwrap_err(),
            StatusCode::REQUEST_ENTITY_TOO_LARGE
        );
        // declared 4, sent 3 and ended: 424
        it.meta.as_mut().unwrap().size = Some(4);
        let mut r = Reassembly::start(&it, 10).unwrap();
        assert!(matches!(
            r.push(&it),
            Chunk::Failed(StatusCode::SIZE_MISMATCH)
        ));
        // declared 2, more than 2 arrives: 424 at once
        it.meta.as_mut().unwrap().size = Some(2);
        it.more_data = true;
        let mut r = Reassembly::start(&it, 10).unwrap();
        assert!(matches!(
            r.push(&it),
            Chunk::Failed(StatusCode::SIZE_MISMATCH)
        ));
    }
}
