"""Impact report internals, one module per concern.

options     the `report` options as tables, and the checks of their values
inputs      the time range, what --config adds, and which input the rows come from
reports     load report CSVs (local, S3) into an embedded DuckDB table
report_csv  one report CSV parsed and checked row by row, with file and line in each message
sql         the one SQL definition of the aggregates, valid on DuckDB and Amazon Athena
athena      run those queries on Athena instead of locally
cloudwatch  metric attribution metrics and GetRecommendations exposure from CloudWatch
statistics  rates, lift and per-1,000 figures per metric and source
hourly      the (source x hour) matrices, the shop's days, when each source was live
intervals   cluster-robust intervals, blocks of correlated days, Holm adjustment
figures     the results and settings of the analysis
render      text tables and JSON
chart       the --png figure
"""
