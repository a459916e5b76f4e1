from imagecaption.cli import main

main()
