"""One module per subcommand: its NAME, HELP, add_arguments(parser) and run(args) -> exit status.
The shared argument groups are in options.py, the benchmark sequence they share in benchmark.py."""
