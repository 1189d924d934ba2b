"""python -m exchange_analytics"""

from exchange_analytics.cli.main import main

if __name__ == "__main__":
    main()
