from trlprep.cli import main

main()
