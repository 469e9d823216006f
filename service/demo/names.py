"""The demo's name tables: 慈溪市's towns, the communities the article names, invented names and topics.

Data only; `generator.py` draws from them with the seed. What is real: the 19 towns and subdistricts and
three communities (`REAL`); everything else here is invented for the demo.
"""

from __future__ import annotations

from events.hierarchy import TownKind
from events.rules import RuleDocument
from events.training import TrainingKind

CITY_ID = "cixi"
ARTICLE = "慈溪市清廉社区规范化建设覆盖率高达93% (慈溪市民政局, 2022-06)"

_S, _T = TownKind.SUBDISTRICT, TownKind.TOWN
# (id, name, kind, urban communities 社区, villages 村): 5 街道 and 14 镇, 100 communities in all.
TOWNS: tuple[tuple[str, str, TownKind, int, int], ...] = (
    ("zonghan", "宗汉", _S, 3, 3),
    ("kandun", "坎墩", _S, 2, 3),
    ("hushan", "浒山", _S, 7, 2),
    ("baishalu", "白沙路", _S, 5, 2),
    ("gutang", "古塘", _S, 6, 2),
    ("zhangqi", "掌起", _T, 1, 3),
    ("guanhaiwei", "观海卫", _T, 2, 4),
    ("fuhai", "附海", _T, 1, 3),
    ("qiaotou", "桥头", _T, 1, 3),
    ("kuangyan", "匡堰", _T, 1, 3),
    ("xiaolin", "逍林", _T, 1, 3),
    ("xinpu", "新浦", _T, 1, 4),
    ("shengshan", "胜山", _T, 1, 3),
    ("henghe", "横河", _T, 1, 4),
    ("chongshou", "崇寿", _T, 1, 4),
    ("andong", "庵东", _T, 1, 3),
    ("changhe", "长河", _T, 1, 4),
    ("zhouxiang", "周巷", _T, 2, 4),
    ("longshan", "龙山", _T, 1, 4),
)
TOWN_ROWS = {row[0]: row for row in TOWNS}

# The communities the article names: (id, name, town).
REAL = (
    ("shuyuan", "舒苑", "gutang"),
    ("yubo", "虞波", "hushan"),
    ("baiguoshu", "白果树", "baishalu"),
)
PREFECTURE_POINT = "shuyuan"  # 古塘街道舒苑社区, 宁波市级清廉社区示范观察点


def _pairs(text: str) -> tuple[tuple[str, str], ...]:
    """("杨家", "yangjia") … from "杨家:yangjia …"."""
    return tuple((name, pinyin) for name, _, pinyin in (item.partition(":") for item in text.split()))


# Invented names (with their pinyin, which makes the id): drawn by the seed.
COMMUNITY_NAMES = _pairs(
    """
    明珠:mingzhu 金桥:jinqiao 阳光:yangguang 和美:hemei 锦绣:jinxiu 翠屏:cuiping 文苑:wenyuan
    春晖:chunhui 桂花:guihua 新城:xincheng 东湖:donghu 西园:xiyuan 南苑:nanyuan 北门:beimen
    长春:changchun 晨曦:chenxi 清风:qingfeng 荷花:hehua 玉兰:yulan 海韵:haiyun 听潮:tingchao
    云台:yuntai 枫林:fenglin 紫薇:ziwei 梅园:meiyuan 竹苑:zhuyuan 金山:jinshan 银湖:yinhu
    天元:tianyuan 博雅:boya 凤鸣:fengming 瑞丰:ruifeng 嘉禾:jiahe 永安:yongan 康乐:kangle
    新华:xinhua 振兴:zhenxing 团结:tuanjie 民和:minhe 兴业:xingye 湖景:hujing 怡园:yiyuan
    秀水:xiushui 华府:huafu 雅苑:yayuan
    """
)
VILLAGE_NAMES = _pairs(
    """
    杨家:yangjia 李家:lijia 陈家:chenjia 胡家:hujia 徐家:xujia 孙家:sunjia 周家:zhoujia 吴家:wujia
    沈家:shenjia 郑家:zhengjia 王家:wangjia 方家:fangjia 施家:shijia 潘家:panjia 叶家:yejia
    罗家:luojia 蒋家:jiangjia 韩家:hanjia 东海:donghai 海塘:haitang 六塘:liutang 七塘:qitang
    八塘:batang 三塘:santang 四灶:sizao 五灶:wuzao 新塘:xintang 洋浦:yangpu 河头:hetou 桥东:qiaodong
    桥西:qiaoxi 湖塘:hutang 潭南:tannan 山下:shanxia 岭头:lingtou 溪口:xikou 田洋:tianyang
    沙田:shatian 丰收:fengshou 五星:wuxing 红星:hongxing 光明:guangming 联丰:lianfeng 万安:wanan
    太平:taiping 长丰:changfeng 双桥:shuangqiao 大池:dachi 花墙:huaqiang 蔡家:caijia 林家:linjia
    高家:gaojia 马家:majia 邵家:shaojia 魏家:weijia 俞家:yujia 范家:fanjia 戚家:qijia 鲍家:baojia
    彭家:pengjia 童家:tongjia 金岙:jinao 石门:shimen 松浦:songpu 柳岸:liuan 梅林:meilin
    桑园:sangyuan 茶亭:chating 渡头:dutou 江南:jiangnan 新舍:xinshe 同心:tongxin 和平:heping
    兴农:xingnong 前进:qianjin
    """
)

# A village moved to a neighbouring subdistrict (an invented boundary adjustment): (from, to), one drawn.
TRANSFERS = (("changhe", "zonghan"), ("fuhai", "baishalu"), ("qiaotou", "hushan"), ("xinpu", "kandun"))


# -- what the records say ----------------------------------------------------------------------------------

REPRESENTATIVE_TOPICS = (
    "审议季度居务、财务公开事项",
    "清廉社区建设计划通报",
    "老旧小区改造方案",
    "公共收益使用情况",
    "垃圾分类工作推进",
    "困难群众帮扶名单评议",
    "小微权力清单执行情况",
    "村集体资产出租事项",
    "停车管理办法",
)
CONSULTATION_TOPICS = (
    "加装电梯意见征集",
    "居民会客厅建设",
    "“居民说事”收集的热点难点问题",
    "背街小巷环境整治",
    "村级道路硬化工程",
    "养老服务站运营",
)
COUNCIL_TOPICS = ("小区物业服务评议", "公共空间微改造", "邻里纠纷调解机制", "文明养犬公约")
FINDINGS = (
    "居务公开栏内容未及时更新",
    "财务报销凭证审批签字不全",
    "小微权力运行流程图未上墙公示",
    "减负清单外事项仍在出具证明",
    "居民代表会议记录不完整",
    "村级工程项目结算资料未及时归档",
)
REPORTS = (
    ("反映小区公共收益使用情况未公开", "经核查,社区已补充公开公共收益明细"),
    ("反映困难补助评定过程不透明", "经核查,评定程序合规,已向反映人说明并公开评定结果"),
    ("反映村集体土地出租程序不规范", "经核查部分属实,已责令重新履行民主决策程序"),
    ("反映公益性岗位人员考勤不实", "经核查反映不实,已向反映人反馈"),
)
MAJOR_MATTERS = ("办公用房修缮工程", "集体资产出租", "老年食堂建设项目", "道路硬化工程", "公共设施采购")

RULE_NAMES = {
    RuleDocument.RESIDENTS_CONVENTION: "居民公约",
    RuleDocument.VILLAGE_RULES: "村规民约",
    RuleDocument.AUTONOMY_CHARTER: "自治章程",
    RuleDocument.MICRO_POWER_LIST: "小微权力清单",
    RuleDocument.BURDEN_REDUCTION_LIST: "减负清单",
    RuleDocument.CERTIFICATE_LIST: "证明事项清单",
}
TRAINING_TITLES = {
    TrainingKind.WARNING_SITE_VISIT: "廉政警示教育基地参观学习",
    TrainingKind.WARNING_MEETING: "{year}年度警示教育会议",
    TrainingKind.CASE_ANALYSIS: "基层“微腐败”典型案例剖析",
    TrainingKind.INTEGRITY_COURSE: "清廉社区建设专题培训",
    TrainingKind.DEMOCRATIC_LIFE_MEETING: "{year}年度清廉专题民主生活会",
    TrainingKind.OTHER: "清廉文化活动",
}
TRAINING_HOURS: dict[TrainingKind, tuple[float, ...]] = {
    TrainingKind.WARNING_SITE_VISIT: (3.0, 3.5, 4.0),
    TrainingKind.WARNING_MEETING: (1.5, 2.0),
    TrainingKind.CASE_ANALYSIS: (2.0, 2.5),
    TrainingKind.INTEGRITY_COURSE: (1.5, 2.0, 3.0),
    TrainingKind.DEMOCRATIC_LIFE_MEETING: (2.0, 2.5, 3.0),
    TrainingKind.OTHER: (1.0, 1.5, 2.0),
}
