//! `IVec`: the byte string type of keys and values.
//!
//! Short byte strings (up to [`INLINE_CAP`] bytes) live inline, so cloning them and
//! returning them from `get` never allocates. Longer ones share a reference-counted
//! buffer, so a clone is a counter increment: either a buffer of their own, or a
//! span of a leaf's packed buffer (see `leaf::pack`), which keeps a leaf's values
//! together in memory so that reading many of them touches few cache lines. An
//! `IVec` is immutable.

use std::borrow::Borrow;
use std::cmp::Ordering;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

/// Longest byte string stored inline.
const INLINE_CAP: usize = 22;

/// An immutable, cheaply cloneable byte string: inline up to 22 bytes, shared
/// beyond that.
///
/// ```
/// use skiff_engine::IVec;
/// let short = IVec::from(b"hello");
/// let long = IVec::from(vec![7u8; 100]);
/// assert_eq!(&*short, b"hello");
/// assert_eq!(long.clone().len(), 100);
/// assert!(short < IVec::from("world"));
/// ```
#[derive(Clone)]
pub struct IVec(Repr);

#[derive(Clone)]
enum Repr {
    Inline(u8, [u8; INLINE_CAP]),
    Shared(Arc<[u8]>),
    /// `len` bytes at `offset` of a packed buffer; a thin pointer keeps `IVec`
    /// at 24 bytes.
    Packed(Arc<Box<[u8]>>, u32, u32),
}

/// A buffer holding many `IVec`s' bytes back to back.
pub(crate) type PackedBuf = Arc<Box<[u8]>>;

impl IVec {
    /// Copies `bytes` into a new `IVec`.
    pub fn from_slice(bytes: &[u8]) -> IVec {
        if bytes.len() <= INLINE_CAP {
            let mut buf = [0u8; INLINE_CAP];
            buf[..bytes.len()].copy_from_slice(bytes);
            let len = u8::try_from(bytes.len()).expect("at most INLINE_CAP");
            IVec(Repr::Inline(len, buf))
        } else {
            IVec(Repr::Shared(Arc::from(bytes)))
        }
    }

    /// Whether this needs a heap buffer (is longer than the inline capacity).
    #[inline]
    pub(crate) fn is_long(&self) -> bool {
        self.len() > INLINE_CAP
    }

    /// The bytes `offset..offset + len` of `buf`, shared, not copied.
    pub(crate) fn packed(buf: &PackedBuf, offset: usize, len: usize) -> IVec {
        match (u32::try_from(offset), u32::try_from(len)) {
            (Ok(o), Ok(l)) if len > INLINE_CAP => IVec(Repr::Packed(buf.clone(), o, l)),
            _ => IVec::from_slice(&buf[offset..offset + len]),
        }
    }

    /// The first 8 bytes as a big-endian integer, zero-padded: comparing two
    /// prefixes orders byte strings correctly except among equal prefixes, which
    /// then need a full comparison. Searches use it to touch less memory.
    #[inline]
    pub(crate) fn prefix(bytes: &[u8]) -> u64 {
        let mut buf = [0u8; 8];
        let n = bytes.len().min(8);
        buf[..n].copy_from_slice(&bytes[..n]);
        u64::from_be_bytes(buf)
    }

    /// The empty byte string.
    pub const fn empty() -> IVec {
        IVec(Repr::Inline(0, [0u8; INLINE_CAP]))
    }

    #[inline]
    fn as_slice(&self) -> &[u8] {
        match &self.0 {
            Repr::Inline(len, buf) => &buf[..usize::from(*len)],
            Repr::Shared(arc) => arc,
            Repr::Packed(buf, offset, len) => {
                let start = *offset as usize;
                &buf[start..start + *len as usize]
            }
        }
    }
}

impl Default for IVec {
    fn default() -> Self {
        IVec::empty()
    }
}

impl Deref for IVec {
    type Target = [u8];
    #[inline]
    fn deref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl AsRef<[u8]> for IVec {
    fn as_ref(&self) -> &[u8] {
        self.as_slice()
    }
}

impl Borrow<[u8]> for IVec {
    fn borrow(&self) -> &[u8] {
        self.as_slice()
    }
}

impl From<&[u8]> for IVec {
    fn from(v: &[u8]) -> IVec {
        IVec::from_slice(v)
    }
}

impl From<&IVec> for IVec {
    fn from(v: &IVec) -> IVec {
        v.clone()
    }
}

impl<const N: usize> From<&[u8; N]> for IVec {
    fn from(v: &[u8; N]) -> IVec {
        IVec::from_slice(v)
    }
}

impl<const N: usize> From<[u8; N]> for IVec {
    fn from(v: [u8; N]) -> IVec {
        IVec::from_slice(&v)
    }
}

impl From<Vec<u8>> for IVec {
    fn from(v: Vec<u8>) -> IVec {
        if v.len() <= INLINE_CAP {
            IVec::from_slice(&v)
        } else {
            IVec(Repr::Shared(Arc::from(v)))
        }
    }
}

impl From<Box<[u8]>> for IVec {
    fn from(v: Box<[u8]>) -> IVec {
        IVec::from(Vec::from(v))
    }
}

impl From<Arc<[u8]>> for IVec {
    fn from(v: Arc<[u8]>) -> IVec {
        IVec(Repr::Shared(v))
    }
}

impl From<&str> for IVec {
    fn from(v: &str) -> IVec {
        IVec::from_slice(v.as_bytes())
    }
}

impl From<String> for IVec {
    fn from(v: String) -> IVec {
        IVec::from(v.into_bytes())
    }
}

impl From<&String> for IVec {
    fn from(v: &String) -> IVec {
        IVec::from_slice(v.as_bytes())
    }
}

impl From<&Vec<u8>> for IVec {
    fn from(v: &Vec<u8>) -> IVec {
        IVec::from_slice(v)
    }
}

impl From<IVec> for Vec<u8> {
    fn from(v: IVec) -> Vec<u8> {
        v.to_vec()
    }
}

impl From<IVec> for Arc<[u8]> {
    fn from(v: IVec) -> Arc<[u8]> {
        match v.0 {
            Repr::Shared(arc) => arc,
            Repr::Inline(..) | Repr::Packed(..) => Arc::from(&*v),
        }
    }
}

impl PartialEq for IVec {
    fn eq(&self, other: &IVec) -> bool {
        self.as_slice() == other.as_slice()
    }
}

impl Eq for IVec {}

impl<T: AsRef<[u8]> + ?Sized> PartialEq<T> for IVec
where
    T: NotIVec,
{
    fn eq(&self, other: &T) -> bool {
        self.as_slice() == other.as_ref()
    }
}

/// Lets `IVec == [u8]`-like comparisons coexist with `IVec == IVec`.
#[doc(hidden)]
pub trait NotIVec {}
impl NotIVec for [u8] {}
impl NotIVec for str {}
impl NotIVec for Vec<u8> {}
impl NotIVec for String {}
impl<const N: usize> NotIVec for [u8; N] {}
impl<T: NotIVec + ?Sized> NotIVec for &T {}

impl PartialOrd for IVec {
    fn partial_cmp(&self, other: &IVec) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for IVec {
    fn cmp(&self, other: &IVec) -> Ordering {
        self.as_slice().cmp(other.as_slice())
    }
}

impl Hash for IVec {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_slice().hash(state)
    }
}

impl fmt::Debug for IVec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[")?;
        for (i, b) in self.as_slice().iter().enumerate() {
            if i > 0 {
                write!(f, ", ")?;
            }
            write!(f, "{b}")?;
        }
        write!(f, "]")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_and_shared_compare_by_content() {
        for len in [0, 1, INLINE_CAP - 1, INLINE_CAP, INLINE_CAP + 1, 300] {
            let bytes: Vec<u8> = (0..len).map(|i| u8::try_from(i * 7 % 256).unwrap()).collect();
            let a = IVec::from(&bytes[..]);
            let b = IVec::from(bytes.clone());
            assert_eq!(a, b);
            assert_eq!(&*a, &bytes[..]);
            assert_eq!(a.cmp(&b), Ordering::Equal);
            assert_eq!(a, bytes);
        }
        assert_eq!(IVec::from(b"a").cmp(&IVec::from(vec![b'b'; 40])), Ordering::Less);
        assert_eq!(IVec::from(vec![b'a'; 40]).cmp(&IVec::from(b"b")), Ordering::Less);
        assert_eq!(std::mem::size_of::<IVec>(), 24);
    }

    #[test]
    fn packed_spans_read_their_bytes() {
        let buf: PackedBuf = Arc::new((0..200u8).collect::<Vec<u8>>().into_boxed_slice());
        let long = IVec::packed(&buf, 10, 50);
        assert_eq!(&*long, &(10..60u8).collect::<Vec<u8>>()[..]);
        assert!(matches!(long.0, Repr::Packed(..)));
        let short = IVec::packed(&buf, 100, 5);
        assert_eq!(&*short, &[100u8, 101, 102, 103, 104][..]);
        assert!(matches!(short.0, Repr::Inline(..)));
        assert_eq!(long, IVec::from((10..60u8).collect::<Vec<u8>>()));
    }

    #[test]
    fn debug_prints_bytes() {
        assert_eq!(format!("{:?}", IVec::from(&[1u8, 2][..])), "[1, 2]");
    }
}
