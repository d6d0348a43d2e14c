//! Page requests and page results.

use crate::validation::ValidationErrors;
use serde::{Deserialize, Serialize};

/// A validated page request: `page` 1..=[`Page::MAX_NUMBER`], `page_size` 1..=[`Page::MAX_SIZE`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page {
    page: u32,
    page_size: u32,
}

impl Page {
    /// The largest page size a client may ask for.
    pub const MAX_SIZE: u32 = 100;
    /// The page size when none is given.
    pub const DEFAULT_SIZE: u32 = 20;
    /// The highest page number a client may ask for.
    pub const MAX_NUMBER: u32 = 1_000_000;

    /// Validates a client's `?page=&page_size=`.
    pub fn new(page: Option<u32>, page_size: Option<u32>) -> crate::Result<Self> {
        let page = page.unwrap_or(1);
        let page_size = page_size.unwrap_or(Self::DEFAULT_SIZE);
        let mut errs = ValidationErrors::new();
        if page == 0 || page > Self::MAX_NUMBER {
            errs.add(
                "page",
                format!("Must be between 1 and {}.", Self::MAX_NUMBER),
            );
        }
        if page_size == 0 || page_size > Self::MAX_SIZE {
            errs.add(
                "page_size",
                format!("Must be between 1 and {}.", Self::MAX_SIZE),
            );
        }
        errs.into_result(Self { page, page_size })
    }

    /// 1-based page number.
    pub fn number(&self) -> u32 {
        self.page
    }

    /// Items per page.
    pub fn size(&self) -> u32 {
        self.page_size
    }

    /// SQL `LIMIT`.
    pub fn limit(&self) -> i64 {
        i64::from(self.page_size)
    }

    /// SQL `OFFSET`.
    pub fn offset(&self) -> i64 {
        i64::from(self.page - 1) * i64::from(self.page_size)
    }
}

impl Default for Page {
    fn default() -> Self {
        Self {
            page: 1,
            page_size: Self::DEFAULT_SIZE,
        }
    }
}

/// One page of results and the total count over all pages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PageResult<T> {
    /// Items on this page.
    pub items: Vec<T>,
    /// Items over all pages.
    pub total: u64,
    /// The page that was asked for.
    pub page: Page,
}

impl<T> PageResult<T> {
    /// Whether a page follows this one.
    pub fn has_next(&self) -> bool {
        u64::from(self.page.number()) * u64::from(self.page.size()) < self.total
    }

    /// Whether a page precedes this one.
    pub fn has_previous(&self) -> bool {
        self.page.number() > 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bounds() {
        assert!(Page::new(Some(0), None).is_err());
        assert!(Page::new(None, Some(101)).is_err());
        assert!(Page::new(None, Some(0)).is_err());
        let p = Page::new(Some(3), Some(10)).unwrap();
        assert_eq!((p.limit(), p.offset()), (10, 20));
        let r = PageResult {
            items: vec![1],
            total: 21,
            page: p,
        };
        assert!(!r.has_next());
        assert!(r.has_previous());
    }
}
