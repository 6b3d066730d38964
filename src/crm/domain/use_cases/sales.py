"""The pipeline and deal use cases as one bundle the composition root builds and routers use."""

from __future__ import annotations

from dataclasses import dataclass

from crm.domain.use_cases import deal_links as links
from crm.domain.use_cases import deals as d
from crm.domain.use_cases import pipelines as p
from crm.ports.deals import DealReader, PipelineReader
from crm.ports.system import Clock, IdGenerator, PhoneNumbers
from crm.ports.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True, slots=True)
class SalesUseCases:
    create_pipeline: p.CreatePipeline
    list_pipelines: p.ListPipelines
    get_pipeline: p.GetPipeline
    update_pipeline: p.UpdatePipeline
    delete_pipeline: p.DeletePipeline
    summarize_pipeline: p.SummarizePipeline
    add_stage: p.AddStage
    update_stage: p.UpdateStage
    delete_stage: p.DeleteStage
    reorder_stages: p.ReorderStages
    create_deal: d.CreateDeal
    list_deals: d.ListDeals
    get_deal: d.GetDeal
    update_deal: d.UpdateDeal
    delete_deal: d.DeleteDeal
    move_deal: d.MoveDeal
    stage_history: d.DealStageHistory
    link_deal: links.LinkDeal
    unlink_deal: links.UnlinkDeal
    list_deals_of: links.ListDealsOf
    list_deal_contacts: links.ListDealContacts
    list_deal_companies: links.ListDealCompanies

    @classmethod
    def build(
        cls,
        uow: UnitOfWorkFactory,
        clock: Clock,
        ids: IdGenerator,
        pipelines: PipelineReader,
        deals: DealReader,
        phones: PhoneNumbers,
    ) -> SalesUseCases:
        writes = (uow, clock, ids)
        return cls(
            create_pipeline=p.CreatePipeline(*writes),
            list_pipelines=p.ListPipelines(pipelines),
            get_pipeline=p.GetPipeline(pipelines),
            update_pipeline=p.UpdatePipeline(*writes),
            delete_pipeline=p.DeletePipeline(*writes),
            summarize_pipeline=p.SummarizePipeline(pipelines),
            add_stage=p.AddStage(*writes),
            update_stage=p.UpdateStage(*writes),
            delete_stage=p.DeleteStage(*writes),
            reorder_stages=p.ReorderStages(*writes),
            create_deal=d.CreateDeal(*writes, phones),
            list_deals=d.ListDeals(deals),
            get_deal=d.GetDeal(deals),
            update_deal=d.UpdateDeal(*writes, phones),
            delete_deal=d.DeleteDeal(*writes),
            move_deal=d.MoveDeal(*writes),
            stage_history=d.DealStageHistory(deals),
            link_deal=links.LinkDeal(*writes),
            unlink_deal=links.UnlinkDeal(*writes),
            list_deals_of=links.ListDealsOf(deals),
            list_deal_contacts=links.ListDealContacts(deals),
            list_deal_companies=links.ListDealCompanies(deals),
        )
