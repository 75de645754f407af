from djbench.analysis.markdown import markdown_table


def test_a_table_as_every_page_writes_it():
    text = markdown_table(["Users", 100, 200], [["WSGI", 0, 5.0], ["ASGI", "", "n/a"]])
    assert text == (
        "| Users | 100 | 200 |\n| --- | --- | --- |\n| WSGI | 0 | 5.0 |\n| ASGI |  | n/a |"
    )


def test_the_compact_rule_of_the_reference_notes():
    text = markdown_table(["client", "requests/s"], [["locust", "812.4"]], compact_rule=True)
    assert text == "| client | requests/s |\n|---|---|\n| locust | 812.4 |"


def test_alignment_per_column():
    text = markdown_table(["a", "b", "c", "d"], [], align=["left", "right", "center", None])
    assert text == "| a | b | c | d |\n| :--- | ---: | :---: | --- |"
    compact = markdown_table(["a", "b"], [], align=[None, "right"], compact_rule=True)
    assert compact == "| a | b |\n|---|---:|"


def test_a_pipe_in_a_cell_stays_in_its_cell():
    text = markdown_table(["Field", "Value"], [("Command", "a | b")])
    assert text.splitlines()[2] == "| Command | a \\| b |"
