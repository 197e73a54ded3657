"""livechart 的性能测量（make bench）。只报告同一次运行中并排测得的比值。"""
