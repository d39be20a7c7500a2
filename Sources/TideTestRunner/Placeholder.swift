// TideTestRunner
