"""Platform spiders, written once; the spider loader makes one per feed config."""

from .arcgis import ArcGISSpider
from .csv_feed import CsvSpider
from .html_table import HtmlTableSpider
from .json_feed import JsonSpider
from .socrata import SocrataSpider
from .xml_feed import XmlSpider

PLATFORM_SPIDERS = {
    "socrata": SocrataSpider,
    "arcgis": ArcGISSpider,
    "json": JsonSpider,
    "csv": CsvSpider,
    "xml": XmlSpider,
    "html_table": HtmlTableSpider,
}

__all__ = ["PLATFORM_SPIDERS"]
