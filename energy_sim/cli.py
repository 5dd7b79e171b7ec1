"""The `energy-sim` command."""


def main(argv: list[str] | None = None) -> int:
    raise SystemExit("energy-sim: under construction")
