"""`python -m emulators.demo_data OUTPUT_DIR [--events N ...]`"""

from .generator import main

main()
