"""URLS files: hand-written ones read as their author meant, mistakes refused in one line naming
the file and line, and a written one reads back as what was written."""

import pytest

from djbench.contracts import urls
from djbench.errors import UserError
from djbench.scenario import urls_file

ON_SITE = " of the site under test (like /about/)"


def test_a_hand_written_file_reads_with_its_weights(tmp_path):
    path = tmp_path / "urls.txt"
    path.write_text(
        "# the shop's pages\n"
        "\n"
        "/            3\n"
        "/products/   2   # the busiest list\n"
        "   /about/\n"
        "/search/?q=shoes 1\n"
    )
    assert urls_file.read(path) == [
        ("/", 3), ("/products/", 2), ("/about/", 1), ("/search/?q=shoes", 1),
    ]  # fmt: skip


@pytest.mark.parametrize(
    "line, why",
    [
        (
            "http://example.com/about/",
            "'http://example.com/about/' is a URL, not a path" + ON_SITE,
        ),
        (
            "https://127.0.0.1:8080/",
            "'https://127.0.0.1:8080/' is a URL, not a path" + ON_SITE,
        ),
        (
            "//cdn.example.com/app.js",
            "'//cdn.example.com/app.js' is a URL, not a path" + ON_SITE,
        ),
        ("about/", "'about/' is not a path: paths start with /"),
        ("/about/ 0", "weight '0' is not a whole number of at least 1"),
        ("/about/ 1.5", "weight '1.5' is not a whole number of at least 1"),
        ("/about/ -2", "weight '-2' is not a whole number of at least 1"),
        ("/about/ three", "weight 'three' is not a whole number of at least 1"),
        ("/about/ 2 3", "expected a path and an optional weight, got '/about/ 2 3'"),
    ],
)
def test_a_bad_line_is_named_with_its_file_and_number(tmp_path, line, why):
    path = tmp_path / "urls.txt"
    path.write_text(f"# pages\n/ 2\n{line}\n/contact/\n")
    with pytest.raises(UserError) as info:
        urls_file.read(path)
    assert str(info.value) == f"{path}, line 3: {why}"


def test_a_repeated_path_names_both_lines(tmp_path):
    path = tmp_path / "urls.txt"
    path.write_text("/\n/about/ 2\n\n/about/\n")
    with pytest.raises(UserError, match=r"^\S+urls.txt, line 4: /about/ is already on line 2$"):
        urls_file.read(path)


def test_a_file_without_pages_or_unreadable_is_refused(tmp_path):
    path = tmp_path / "urls.txt"
    path.write_text("# nothing yet\n\n")
    with pytest.raises(UserError) as info:
        urls_file.read(path)
    assert str(info.value) == f"{path}: no page in it (one path per line, like /about/)"
    with pytest.raises(UserError, match=r"^cannot read the URLS file \S+missing.txt: .*No such"):
        urls_file.read(tmp_path / "missing.txt")


def test_a_written_file_says_how_to_pass_it_back_and_reads_back(tmp_path):
    pages = [("/", 1), ("/articles/", 4), ("/a/very/long/path/?page=2", 1)]
    path = tmp_path / "urls.txt"
    urls_file.write(path, pages)
    text = path.read_text()
    assert f"pass it back: URLS={path}\n" in text
    assert text.splitlines()[-3:] == [
        "/                          1",
        "/articles/                 4",
        "/a/very/long/path/?page=2  1",
    ]
    assert urls_file.read(path) == pages


@pytest.mark.parametrize("page", [("/a b/", 1), ("/x#frag", 1), ("/", 0), ("about/", 1)])
def test_what_the_format_cannot_hold_is_not_written(tmp_path, page):
    with pytest.raises(ValueError):
        urls_file.write(tmp_path / "urls.txt", [page])
    assert not (tmp_path / "urls.txt").exists()


def test_the_contract_parser_gives_the_line_to_the_locustfile():
    # pages.py reads the same format without the harness's UserError.
    assert urls.parse("/ 2\n/x/\n") == [("/", 2), ("/x/", 1)]
    with pytest.raises(ValueError, match=r"^line 2: 'x' is not a path"):
        urls.parse("/\nx\n")
