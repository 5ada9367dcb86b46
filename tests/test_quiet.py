"""keras_ae.utils.quiet: progress written to a file keeps the last state of each line."""


def test_plain_lines_keep_the_last_state_of_a_line_rewritten_in_place():
    import io

    from keras_ae.utils.quiet import PlainLines

    log = io.StringIO()
    stream = PlainLines(log)
    stream.write("Epoch 1/2\n\x1b[1m1/3\x1b[0m \x1b[32m━\x1b[0m")
    stream.write("\b\b\b\b\b\r\x1b[1m3/3\x1b[0m ━━━ - loss: 0.5   \n\rhalf")
    assert log.getvalue() == "Epoch 1/2\n3/3 ━━━ - loss: 0.5\n"
    stream.end_line()  # a line stopped midway is kept too
    assert log.getvalue().endswith("\nhalf\n") and not stream.isatty()
