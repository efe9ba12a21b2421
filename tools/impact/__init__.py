"""Impact report internals, one module per concern.

reports     read and validate report CSVs (local, S3) into an embedded DuckDB table
sql         the one SQL definition of the aggregates, valid on DuckDB and Amazon Athena
athena      run those queries on Athena instead of locally
cloudwatch  metric attribution metrics and GetRecommendations exposure from CloudWatch
statistics  live windows, rates, lift and cluster-robust intervals
render      text tables and JSON
chart       the --png figure
"""
