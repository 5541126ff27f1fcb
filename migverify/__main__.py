from migverify.cli import main

main()
