"""``latentmix teach`` refuses weights, which its pictures cannot show, and leaves rows with
missing cells out of the pictures, saying so."""

from latentmix import cli


def _csv(tmp_path, rows):
    path = tmp_path / "prices.csv"
    path.write_text("price,w\n" + "\n".join(rows) + "\n")
    return path


def test_teach_refuses_weights_naming_the_option(tmp_path, capsys):
    data = _csv(tmp_path, [f"{100 + 7 * i},{1 + i % 3}" for i in range(40)])
    out = tmp_path / "out"
    code = cli.main(["teach", str(data), "-k", "2", "--weights", "w", "--out", str(out)])
    assert code == 2
    err = capsys.readouterr().err
    assert "cannot show observation weights" in err and "--weights" in err
    assert not (out / "index.html").exists()


def test_teach_leaves_out_incomplete_rows_and_says_so(tmp_path, capsys):
    rows = [f"{100 + 7 * i},{1 + (i % 5) * 0.3}" for i in range(40)]
    rows[3] = "NA,1"
    rows[7] = "121,"
    data = _csv(tmp_path, rows)
    out = tmp_path / "out"
    args = ["teach", str(data), "-k", "2", "--missing", "ignore"]  # two columns: 2-D
    assert cli.main([*args, "--out", str(out)]) == 0
    err = capsys.readouterr().err
    assert "2 of 40 rows have missing cells and are left out" in err
    page = (out / "index.html").read_text()
    assert "2 of 40 rows have missing cells and are left out" in page
    assert "<p>38 points, 2 features" in page
    # Without --missing ignore the reader itself names the cell and the option.
    assert cli.main([*args[:-2], "--out", str(tmp_path / "other")]) == 2
    assert "--missing ignore" in capsys.readouterr().err
