#!/bin/sh
# Builds both editions of the book: English into book/book/, Simplified Chinese (from
# po/zh-CN.po) into book/book/zh-CN/. Needs mdBook 0.5.4 and mdbook-i18n-helpers 0.4.0
# (`mdbook-gettext`), and perl (book/tools/gfm-alerts.pl). English first: a build empties
# its destination.
set -eu
cd "$(dirname "$0")"
command -v mdbook-gettext >/dev/null || {
  echo "book/build.sh: mdbook-gettext is missing: cargo install --locked mdbook-i18n-helpers --version 0.4.0" >&2
  exit 1
}
mdbook build
MDBOOK_BOOK__LANGUAGE=zh-CN \
MDBOOK_BOOK__TITLE="命名空间内幕" \
MDBOOK_BOOK__DESCRIPTION="Linux 如何创建、共享和加入命名空间：用 nslab 讲述，内核路径的模型与真实内核并排，每条命令都经 cargo test 检查" \
  mdbook build -d book/zh-CN
# The Chinese edition must really be translated (gettext leaves the book English when the
# catalogue is not found): its landing page links back to the English one, which only the
# translation of the introduction does (tests/book_zh.rs requires that link).
grep -q 'href="../index.html"' book/zh-CN/index.html || { echo "book/build.sh: book/book/zh-CN/index.html is not translated" >&2; exit 1; }
echo "book/build.sh: book/book/index.html (English), book/book/zh-CN/index.html (简体中文)"
