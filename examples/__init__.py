"""现成的配置示例：LIVECHART_CONFIG=examples.<名字> make run。"""
