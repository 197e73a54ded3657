"""基准用的配置类。"""

from config import ProductionConfig


class FlaskPathConfig(ProductionConfig):
    """生产配置，但关闭图片的快速路径：每个图片请求都经过 Flask（对照用）。"""

    LIVECHART_FAST_PATH = False
